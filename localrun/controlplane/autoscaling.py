"""Application Auto Scaling for SageMaker variants: scalable targets and scaling policies, stored.

Nothing scales locally (each variant keeps its InitialInstanceCount); the records round-trip as
AWS returns them, so deploy code that registers a target and a policy runs unchanged.
"""

from __future__ import annotations

import hashlib
import time

from .db import Store
from .protocol import ApiError, Request, page

TARGET, POLICY = "ScalableTarget", "ScalingPolicy"


def _key(params: dict) -> str:
    return f"{params['ServiceNamespace']}|{params['ResourceId']}|{params['ScalableDimension']}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _not_found(message: str) -> ApiError:
    return ApiError("ObjectNotFoundException", message)


class Autoscaling:
    def __init__(self, store: Store):
        self.store = store

    def handlers(self) -> dict:
        return {
            "RegisterScalableTarget": self.register, "DescribeScalableTargets": self.describe_targets,
            "DeregisterScalableTarget": self.deregister, "PutScalingPolicy": self.put_policy,
            "DescribeScalingPolicies": self.describe_policies, "DeleteScalingPolicy": self.delete_policy,
        }

    def register(self, request: Request) -> dict:
        params = request.params
        key = _key(params)
        current = self.store.get(TARGET, key)
        arn = (current or {}).get("ScalableTargetARN") or request.arn(
            f"scalable-target/{_digest(key)}", "application-autoscaling")
        body = {**(current or {"CreationTime": time.time(), "SuspendedState": {
            "DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False}}),
            **{k: params[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity",
                                      "MaxCapacity", "RoleARN", "SuspendedState") if k in params},
            "ScalableTargetARN": arn}
        if current is None and ("MinCapacity" not in params or "MaxCapacity" not in params):
            raise ApiError("ValidationException", "MinCapacity and MaxCapacity are required to register a new target")
        self.store.put(TARGET, key, body)
        return {"ScalableTargetARN": arn}

    def describe_targets(self, request: Request) -> dict:
        params = request.params
        targets = [t for t in self.store.all(TARGET)
                   if t["ServiceNamespace"] == params["ServiceNamespace"]
                   and (not params.get("ResourceIds") or t["ResourceId"] in params["ResourceIds"])
                   and params.get("ScalableDimension") in (None, t["ScalableDimension"])]
        chunk, token = page(targets, params, 50)
        return {"ScalableTargets": chunk, "NextToken": token}

    def deregister(self, request: Request) -> dict:
        key = _key(request.params)
        if not self.store.delete(TARGET, key):
            raise _not_found(f"No scalable target registered for {request.params['ResourceId']}")
        for policy in self.store.all(POLICY):
            if _key(policy) == key:
                self.store.delete(POLICY, f"{key}|{policy['PolicyName']}")
        return {}

    def put_policy(self, request: Request) -> dict:
        params = request.params
        key = _key(params)
        if self.store.get(TARGET, key) is None:
            raise _not_found(f"No scalable target registered for service namespace: {params['ServiceNamespace']}, "
                             f"resource ID: {params['ResourceId']}, scalable dimension: {params['ScalableDimension']}")
        name = params["PolicyName"]
        arn = request.arn(f"scalingPolicy:{_digest(key)}:resource/{params['ServiceNamespace']}/"
                          f"{params['ResourceId']}:policyName/{name}", "autoscaling")
        body = {k: v for k, v in params.items()}
        body.update({"PolicyARN": arn, "PolicyType": params.get("PolicyType", "StepScaling"), "Alarms": [],
                     "CreationTime": time.time()})
        self.store.put(POLICY, f"{key}|{name}", body)
        return {"PolicyARN": arn, "Alarms": []}

    def describe_policies(self, request: Request) -> dict:
        params = request.params
        policies = [p for p in self.store.all(POLICY)
                    if p["ServiceNamespace"] == params["ServiceNamespace"]
                    and (not params.get("PolicyNames") or p["PolicyName"] in params["PolicyNames"])
                    and params.get("ResourceId") in (None, p["ResourceId"])
                    and params.get("ScalableDimension") in (None, p["ScalableDimension"])]
        chunk, token = page(policies, params, 50)
        return {"ScalingPolicies": chunk, "NextToken": token}

    def delete_policy(self, request: Request) -> dict:
        if not self.store.delete(POLICY, f"{_key(request.params)}|{request.params['PolicyName']}"):
            raise _not_found(f"No scaling policy found for {request.params['PolicyName']}")
        return {}
