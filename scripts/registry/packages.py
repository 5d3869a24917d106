"""Model package groups and packages: request builders (plain dicts, validated in tests against the
service model) and the few lookups the steps and the approval command need.

Everything a later step must trust is in the package itself: the artifact's SHA-256, the data
hashes, the commit and image digest, and the gate's decision with both scores.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterator

from botocore.exceptions import ClientError

from common.errors import ConfigError, DataError

# CustomerMetadataProperties keys (at most 50 entries, keys <= 128, values <= 256 characters)
ARTIFACT_SHA256 = "artifact-sha256"
MODEL_SHA256 = "model-sha256"
TRAIN_DATA_SHA256 = "train-data-sha256"
TEST_DATA_SHA256 = "test-data-sha256"
GIT_COMMIT = "git-commit"
IMAGE_DIGEST = "image-digest"
GATE_METRIC = "gate-metric"
GATE_VALUE = "gate-value"
GATE_HIGHER_IS_BETTER = "gate-higher-is-better"
GATE_DECISION = "gate-decision"
GATE_REASON = "gate-reason"
CHAMPION_ARN = "champion-arn"
CHAMPION_VALUE = "champion-value"
CHAMPION_RESCORED = "champion-rescored"
LAST_STATUS_CHANGE = "last-status-change"

CONTENT_TYPES = ["text/csv", "application/json", "application/x-parquet", "application/vnd.apache.arrow.stream"]
RESPONSE_TYPES = ["application/json", "text/csv"]
DESCRIPTION_PREFIX = "artifact sha256:"
_METADATA_UNSAFE = re.compile(r"[^\w .:/=+\-@]")  # the service's value pattern: letters, numbers, spaces, _.:/=+-@


def metadata_value(value: Any) -> str:
    """A value the CustomerMetadataProperties pattern accepts: other characters become spaces, at most 256."""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    text = " ".join(_METADATA_UNSAFE.sub(" ", text).split())
    return (text or "-")[:256]


def metadata(**values: Any) -> dict[str, str]:
    """Keyword names with '_' -> '-' keys; None values left out."""
    return {key.replace("_", "-"): metadata_value(v) for key, v in values.items() if v is not None}


def client_token(group: str, artifact_sha256: str) -> str:
    """Idempotency token: the same artifact sent twice to one group creates one package (36 characters)."""
    return hashlib.sha256(f"{group}\n{artifact_sha256}".encode()).hexdigest()[:36]


def group_request(group: str, description: str = "") -> dict:
    request = {"ModelPackageGroupName": group}
    if description:
        request["ModelPackageGroupDescription"] = description[:1024]
    return request


def package_request(
    group: str,
    image_uri: str,
    model_data_url: str,
    artifact_sha256: str,
    status: str,
    reason: str,
    properties: dict[str, str],
    evaluation_url: str | None = None,
    evaluation_sha256: str | None = None,
    instance_types: list[str] | None = None,
    transform_instance_types: list[str] | None = None,
    baseline_urls: tuple[str, str] | None = None,
) -> dict:
    """CreateModelPackage: image + artifact, what it reads and answers, metrics, metadata, approval status."""
    if len(properties) > 50:
        raise ConfigError(f"CustomerMetadataProperties: {len(properties)} entries, the service allows 50")
    inference: dict[str, Any] = {
        "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
        "SupportedContentTypes": CONTENT_TYPES,
        "SupportedResponseMIMETypes": RESPONSE_TYPES,
    }
    if instance_types:
        inference["SupportedRealtimeInferenceInstanceTypes"] = list(instance_types)
    if transform_instance_types:
        inference["SupportedTransformInstanceTypes"] = list(transform_instance_types)
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": f"{DESCRIPTION_PREFIX}{artifact_sha256}; {reason}"[:1024],
        "InferenceSpecification": inference,
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": properties,
        "ClientToken": client_token(group, artifact_sha256),
    }
    if evaluation_url:
        statistics = {"ContentType": "application/json", "S3Uri": evaluation_url}
        if evaluation_sha256:
            statistics["ContentDigest"] = f"sha256:{evaluation_sha256}"
        request["ModelMetrics"] = {"ModelQuality": {"Statistics": statistics}}
    if baseline_urls:  # the training split's Model Monitor baselines: what drift checks compare with
        statistics_url, constraints_url = baseline_urls
        quality = {"Statistics": {"ContentType": "application/json", "S3Uri": statistics_url},
                   "Constraints": {"ContentType": "application/json", "S3Uri": constraints_url}}
        request.setdefault("ModelMetrics", {})["ModelDataQuality"] = quality
        request["DriftCheckBaselines"] = {"ModelDataQuality": quality}
    return request


def status_request(package: dict, status: str, reason: str, change: str) -> dict:
    """UpdateModelPackage for a person's decision: the reason in ApprovalDescription, the change in metadata.

    The package's metadata goes back whole with the change added: the service merges the keys
    sent into the package's, but moto replaces them all, and a package without its
    artifact-sha256 is one that deploy refuses to trust.
    """
    properties = {**package.get("CustomerMetadataProperties", {}), LAST_STATUS_CHANGE: metadata_value(change)}
    return {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelApprovalStatus": status,
        "ApprovalDescription": reason[:1024],
        "CustomerMetadataProperties": properties,
    }


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ValidationException", "ResourceNotFound") and (
        "does not exist" in error.get("Message", "") or "not found" in error.get("Message", "").lower()
    )


def ensure_group(sm, group: str, description: str = "") -> str:
    """The group's ARN, creating the group when it does not exist (a concurrent creator is fine)."""
    try:
        return sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    except ClientError as exc:
        if not _is_missing(exc):
            raise
    try:
        return sm.create_model_package_group(**group_request(group, description))["ModelPackageGroupArn"]
    except ClientError as exc:
        if "already exists" not in exc.response.get("Error", {}).get("Message", ""):
            raise
        return sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]


def iter_packages(sm, group: str, status: str | None = None) -> Iterator[dict]:
    """Every package summary of a group, newest first, across pages."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 100,
    }
    if status:
        request["ModelApprovalStatus"] = status
    while True:
        try:
            page = sm.list_model_packages(**request)
        except ClientError as exc:
            if _is_missing(exc):
                raise ConfigError(f"model package group '{group}' does not exist") from None
            raise
        yield from page.get("ModelPackageSummaryList", [])
        token = page.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def _newest(summaries: list[dict]) -> dict | None:
    # CreationTime ties (same millisecond, or a store with coarse clocks) are broken by version
    return max(summaries, key=lambda s: (s["CreationTime"], s.get("ModelPackageVersion", 0)), default=None)


def latest_approved(sm, group: str) -> dict | None:
    """The champion: the newest Approved package, described (so the caller holds one fixed version)."""
    newest = _newest(list(iter_packages(sm, group, "Approved")))
    return describe(sm, newest["ModelPackageArn"]) if newest else None


def describe(sm, ref: str) -> dict:
    """A package by ARN, or by 'GROUP/VERSION' (resolved through the group's listing)."""
    if ref.startswith("arn:"):
        try:
            return sm.describe_model_package(ModelPackageName=ref)
        except ClientError as exc:
            if _is_missing(exc):
                raise ConfigError(f"model package {ref} does not exist") from None
            raise
    group, _, version = ref.rpartition("/")
    if not group or not version.isdigit():
        raise ConfigError(f"'{ref}': expected a model package ARN or GROUP/VERSION (e.g. churn/3)")
    for summary in iter_packages(sm, group):
        if summary.get("ModelPackageVersion") == int(version):
            return sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    raise ConfigError(f"model package group '{group}' has no version {version}")


def find_by_artifact(sm, group: str, artifact_sha256: str) -> dict | None:
    """The package of this group already registered with this artifact, if any.

    The description names the SHA-256, so only matching summaries are described; the
    metadata of the described package is what decides.
    """
    for summary in iter_packages(sm, group):
        if artifact_sha256 not in summary.get("ModelPackageDescription", ""):
            continue
        package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package.get("CustomerMetadataProperties", {}).get(ARTIFACT_SHA256) == artifact_sha256:
            return package
    return None


def registered_value(package: dict) -> float | None:
    raw = package.get("CustomerMetadataProperties", {}).get(GATE_VALUE)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def model_data_url(package: dict) -> str:
    try:
        return package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    except (KeyError, IndexError):
        raise DataError(f"{package.get('ModelPackageArn')}: no ModelDataUrl in its InferenceSpecification") from None


def summary_row(package: dict) -> dict:
    """What `list` and `show` print about a package."""
    props = package.get("CustomerMetadataProperties", {})
    return {
        "version": package.get("ModelPackageVersion"),
        "arn": package.get("ModelPackageArn"),
        "status": package.get("ModelApprovalStatus"),
        "created": str(package.get("CreationTime")),
        "metric": props.get(GATE_METRIC),
        "value": props.get(GATE_VALUE),
        "champion_value": props.get(CHAMPION_VALUE),
        "champion_rescored": props.get(CHAMPION_RESCORED),
        "reason": package.get("ApprovalDescription") or props.get(GATE_REASON),
        "artifact_sha256": props.get(ARTIFACT_SHA256),
    }
