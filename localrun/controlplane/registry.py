"""The model registry: model package groups and their versioned packages."""

from __future__ import annotations

import re
import time
from typing import Any

from .db import Store
from .protocol import ApiError, Request, page, sort, validation

GROUP = "ModelPackageGroup"
PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[^:]*:\d*:model-package/([^/]+)/(\d+)$")
# what CreateModelPackage may carry into the package as given
PACKAGE_FIELDS = (
    "ModelPackageDescription", "InferenceSpecification", "ValidationSpecification", "SourceAlgorithmSpecification",
    "CertifyForMarketplace", "MetadataProperties", "ModelMetrics", "Domain", "Task", "SamplePayloadUrl",
    "CustomerMetadataProperties", "DriftCheckBaselines", "AdditionalInferenceSpecifications", "SkipModelValidation",
    "SourceUri", "SecurityConfig", "ModelCard", "ModelLifeCycle", "Tags",
)


class Registry:
    def __init__(self, store: Store):
        self.store = store

    def handlers(self) -> dict:
        return {
            "CreateModelPackageGroup": self.create_group, "DescribeModelPackageGroup": self.describe_group,
            "ListModelPackageGroups": self.list_groups, "DeleteModelPackageGroup": self.delete_group,
            "CreateModelPackage": self.create_package, "DescribeModelPackage": self.describe_package,
            "UpdateModelPackage": self.update_package, "ListModelPackages": self.list_packages,
        }

    # groups -----------------------------------------------------------------------------------
    def create_group(self, request: Request) -> dict:
        name = request.params["ModelPackageGroupName"]
        arn = request.arn(f"model-package-group/{name.lower()}")
        body = {"ModelPackageGroupName": name, "ModelPackageGroupArn": arn, "CreationTime": time.time(),
                "ModelPackageGroupDescription": request.params.get("ModelPackageGroupDescription"),
                "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"}
        if not self.store.insert(GROUP, name, body):
            raise validation(f"Model Package Group already exists: {arn}")
        return {"ModelPackageGroupArn": arn}

    def group(self, name_or_arn: str) -> dict:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        body = self.store.get(GROUP, name) or next(
            (g for g in self.store.all(GROUP) if g["ModelPackageGroupName"].lower() == name.lower()), None)
        if body is None:
            raise validation(f"ModelPackageGroup {name_or_arn} does not exist.")
        return body

    def describe_group(self, request: Request) -> dict:
        return self.group(request.params["ModelPackageGroupName"])

    def list_groups(self, request: Request) -> dict:
        params = request.params
        groups = [g for g in self.store.all(GROUP) if (params.get("NameContains") or "") in g["ModelPackageGroupName"]]
        groups = sort(groups, params, {"Name": "ModelPackageGroupName", "CreationTime": "CreationTime"}, "CreationTime")
        chunk, token = page(groups, params)
        summaries = [{k: g.get(k) for k in ("ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription",
                                            "CreationTime", "ModelPackageGroupStatus")} for g in chunk]
        return {"ModelPackageGroupSummaryList": summaries, "NextToken": token}

    def delete_group(self, request: Request) -> dict:
        group = self.group(request.params["ModelPackageGroupName"])
        if self.store.packages(group["ModelPackageGroupName"]):
            raise validation(f"Model Package Group {group['ModelPackageGroupName']} is not empty")
        self.store.delete(GROUP, group["ModelPackageGroupName"])
        return {}

    # packages ---------------------------------------------------------------------------------
    def create_package(self, request: Request) -> dict:
        params = request.params
        if not params.get("ModelPackageGroupName"):
            raise validation("only versioned model packages (ModelPackageGroupName) are supported locally")
        group = self.group(params["ModelPackageGroupName"])["ModelPackageGroupName"]
        if not params.get("InferenceSpecification") and not params.get("SourceAlgorithmSpecification"):
            raise validation("InferenceSpecification is required for a versioned model package")

        def build(version: int, now: float) -> dict[str, Any]:
            body = {k: params[k] for k in PACKAGE_FIELDS if k in params}
            body.update({
                "ModelPackageName": group, "ModelPackageGroupName": group, "ModelPackageVersion": version,
                "ModelPackageArn": request.arn(f"model-package/{group.lower()}/{version}"),
                "CreationTime": now, "LastModifiedTime": now, "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "ModelApprovalStatus": params.get("ModelApprovalStatus") or "PendingManualApproval",
                "ModelPackageRegistrationType": "Registered", "CreatedBy": {}, "_Sequence": version,
            })
            return body

        body = self.store.add_package(group, build, params.get("ClientToken"))
        return {"ModelPackageArn": body["ModelPackageArn"]}

    def package(self, name_or_arn: str) -> dict:
        group, version = self._locate(name_or_arn)
        body = self.store.package(group, version)
        if body is None:
            raise validation(f"ModelPackage {name_or_arn} does not exist.")
        return body

    def _locate(self, name_or_arn: str) -> tuple[str, int]:
        match = PACKAGE_ARN.match(name_or_arn)
        if match is None:
            raise validation(f"ModelPackage {name_or_arn} does not exist: versioned packages are named by their ARN")
        return self.group(match.group(1))["ModelPackageGroupName"], int(match.group(2))

    def describe_package(self, request: Request) -> dict:
        return self.package(request.params["ModelPackageName"])

    def update_package(self, request: Request) -> dict:
        params = request.params
        group, version = self._locate(params["ModelPackageArn"])

        def change(body: dict) -> dict:
            if "ModelApprovalStatus" in params:
                body["ModelApprovalStatus"] = params["ModelApprovalStatus"]
            if "ApprovalDescription" in params:
                body["ApprovalDescription"] = params["ApprovalDescription"]
            properties = {**body.get("CustomerMetadataProperties", {}), **params.get("CustomerMetadataProperties", {})}
            for key in params.get("CustomerMetadataPropertiesToRemove", []):
                properties.pop(key, None)
            if properties or "CustomerMetadataProperties" in body:
                body["CustomerMetadataProperties"] = properties
            for key in ("InferenceSpecification", "ModelCard", "ModelLifeCycle", "SourceUri",
                        "AdditionalInferenceSpecifications"):
                if key in params:
                    body[key] = params[key]
            body["LastModifiedTime"] = time.time()
            return body

        body = self.store.update_package(group, version, change)
        if body is None:
            raise validation(f"ModelPackage {params['ModelPackageArn']} does not exist.")
        return {"ModelPackageArn": body["ModelPackageArn"]}

    def list_packages(self, request: Request) -> dict:
        params = request.params
        if params.get("ModelPackageType") == "Unversioned":
            return {"ModelPackageSummaryList": []}
        group = params.get("ModelPackageGroupName")
        packages = self.store.packages(self.group(group)["ModelPackageGroupName"] if group else None)
        after, before = params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
        packages = [p for p in packages
                    if (params.get("ModelApprovalStatus") in (None, p["ModelApprovalStatus"]))
                    and (params.get("NameContains") or "") in p["ModelPackageName"]
                    and (after is None or p["CreationTime"] > _epoch(after))
                    and (before is None or p["CreationTime"] < _epoch(before))]
        packages = sort(packages, params, {"Name": "ModelPackageName", "CreationTime": "CreationTime"}, "CreationTime")
        chunk, token = page(packages, params)
        keys = ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus",
                "ModelLifeCycle", "ModelPackageRegistrationType")
        return {"ModelPackageSummaryList": [{k: p.get(k) for k in keys} for p in chunk], "NextToken": token}


def _epoch(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError("ValidationException", f"not a timestamp: {value!r}") from None
