"""Deploying an Approved package to an endpoint: create the first time, blue/green update after.

An update never edits what serves traffic: a new Model and EndpointConfig are created and
UpdateEndpoint shifts traffic under a DeploymentConfig (ALL_AT_ONCE | CANARY | LINEAR, with
alarms that roll it back). Only when the endpoint is InService on the new config are the old
Model(s) and EndpointConfig deleted; after a rollback the new ones are deleted instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError

from common.errors import ConfigError, StepError

from . import artifacts, gate, packages
from .client import Clients

PRIMARY = "primary"
SECONDARY = "secondary"  # the A/B variant
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PACKAGE_TAG = "model-package-arn"
TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack")


class DeploymentFailed(StepError):
    """The endpoint did not reach InService on the new configuration (failed, rolled back, or timed out)."""


@dataclass(frozen=True)
class DeploySettings:
    endpoint_name: str
    role_arn: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    capture_percentage: int = 100
    capture_destination: str = ""
    ab_weight: float = 0.1  # traffic share of the secondary (A/B) variant, when there is one
    traffic: str = "ALL_AT_ONCE"  # ALL_AT_ONCE | CANARY | LINEAR
    step_percent: int = 10  # canary size, or each linear step, in percent of capacity
    wait_interval: int = 300  # seconds between traffic shifts
    termination_wait: int = 300  # seconds the old fleet stays up after the shift (the rollback window)
    alarms: tuple[str, ...] = field(default_factory=tuple)  # CloudWatch alarms that roll the update back
    min_instances: int = 1
    max_instances: int = 1  # autoscaling is registered when max > min
    invocations_per_instance: float = 100.0
    timeout: int = 3600  # seconds to wait for InService
    poll: float = 15.0


# --- request builders ------------------------------------------------------------------------------------
def resource_name(endpoint: str, version: int, stamp: str) -> str:
    """<endpoint>-v<version>-<stamp>, cut to SageMaker's 63 characters from the endpoint part."""
    suffix = f"-v{version}-{stamp}"
    return f"{endpoint[: 63 - len(suffix)].rstrip('-')}{suffix}"


def model_request(name: str, package: dict, role_arn: str) -> dict:
    container = package["InferenceSpecification"]["Containers"][0]
    definition = {"Image": container["Image"], "ModelDataUrl": container["ModelDataUrl"]}
    if container.get("Environment"):
        definition["Environment"] = container["Environment"]
    return {
        "ModelName": name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": definition,
        "Tags": [{"Key": PACKAGE_TAG, "Value": package["ModelPackageArn"]}],
    }


def endpoint_config_request(name: str, models: list[tuple[str, str, float]], s: DeploySettings) -> dict:
    """`models`: (variant name, model name, weight) for each production variant."""
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {"VariantName": variant, "ModelName": model, "InstanceType": s.instance_type,
             "InitialInstanceCount": s.instance_count, "InitialVariantWeight": float(weight)}
            for variant, model, weight in models
        ],
    }
    if s.capture_percentage > 0:
        request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": s.capture_percentage,
            "DestinationS3Uri": s.capture_destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        }
    return request


def deployment_config(s: DeploySettings) -> dict:
    routing: dict[str, Any] = {"Type": s.traffic, "WaitIntervalInSeconds": s.wait_interval}
    if s.traffic == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": s.step_percent}
    elif s.traffic == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": s.step_percent}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": s.termination_wait,
        }
    }
    if s.alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in s.alarms]}
    return config


def update_request(endpoint: str, config_name: str, s: DeploySettings) -> dict:
    return {"EndpointName": endpoint, "EndpointConfigName": config_name, "DeploymentConfig": deployment_config(s)}


def scalable_target_request(endpoint: str, variant: str, s: DeploySettings) -> dict:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{variant}",
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": s.min_instances,
        "MaxCapacity": s.max_instances,
    }


def scaling_policy_request(endpoint: str, variant: str, s: DeploySettings) -> dict:
    return {
        "PolicyName": f"{endpoint}-{variant}-invocations",
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{variant}",
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(s.invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }


# --- lookups and waiting ---------------------------------------------------------------------------------
def approved_package(sm, group: str, version: int | None = None) -> dict:
    """The group's latest Approved package, or the named version, refused unless Approved."""
    if version is None:
        package = packages.latest_approved(sm, group)
        if package is None:
            raise ConfigError(f"model package group '{group}' has no Approved package to deploy")
        return package
    package = packages.describe(sm, f"{group}/{version}")
    status = package.get("ModelApprovalStatus")
    if status != gate.APPROVED:
        raise ConfigError(
            f"{package['ModelPackageArn']} is {status}: only Approved packages deploy "
            f"(python -m registry approve {group}/{version} --reason ...)"
        )
    return package


def verify_artifact(clients: Clients, package: dict, workdir: Path) -> str:
    """Fetch the package's model.tar.gz and check it against the registered SHA-256 (a mismatch fails)."""
    expected = package.get("CustomerMetadataProperties", {}).get(packages.ARTIFACT_SHA256)
    archive = artifacts.fetch(packages.model_data_url(package), Path(workdir) / "model.tar.gz", clients.s3)
    return artifacts.verify(archive, expected, package["ModelPackageArn"])


def describe_endpoint(sm, name: str) -> dict | None:
    try:
        return sm.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationException" and "not find" in error.get("Message", "").lower():
            return None
        raise


def serves(sm, endpoint: dict, package: dict) -> bool:
    """Whether the endpoint's current config serves exactly this package: one variant, its artifact."""
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = config.get("ProductionVariants", [])
    if len(variants) != 1:
        return False
    model = sm.describe_model(ModelName=variants[0]["ModelName"])
    return model.get("PrimaryContainer", {}).get("ModelDataUrl") == packages.model_data_url(package)


def invocations_url(clients: Clients, endpoint_name: str) -> str | None:
    """The runtime URL of a local (or moto) endpoint; None on AWS, where boto3's runtime client finds it."""
    return f"{clients.endpoint_url}/endpoints/{endpoint_name}/invocations" if clients.endpoint_url else None


def wait_until_settled(
    sm, name: str, timeout: float, poll: float, sleep: Callable[[float], None] = time.sleep
) -> dict:
    """DescribeEndpoint until the status leaves Creating/Updating/RollingBack; a timeout is a failure."""
    deadline = time.monotonic() + timeout
    while True:
        endpoint = sm.describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] not in TRANSITIONAL:
            return endpoint
        if time.monotonic() >= deadline:
            raise DeploymentFailed(
                f"endpoint {name} still {endpoint['EndpointStatus']} after {timeout:.0f} s; see DescribeEndpoint"
            )
        sleep(poll)


def _models_of(sm, config_name: str) -> list[str]:
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    return [variant["ModelName"] for variant in config["ProductionVariants"] if variant.get("ModelName")]


def _delete_quietly(call: Callable[..., Any], **kwargs) -> bool:
    try:
        call(**kwargs)
        return True
    except ClientError:
        return False  # already gone, or still referenced: not worth failing a deployment for


def delete_config_and_models(sm, config_name: str, keep: tuple[str, ...] = ()) -> list[str]:
    """Delete an EndpointConfig and its Models (except `keep`); returns what was deleted."""
    deleted = []
    models = _models_of(sm, config_name)
    if _delete_quietly(sm.delete_endpoint_config, EndpointConfigName=config_name):
        deleted.append(config_name)
    for model in models:
        if model not in keep and _delete_quietly(sm.delete_model, ModelName=model):
            deleted.append(model)
    return deleted


# --- the deployment --------------------------------------------------------------------------------------
def deploy(
    clients: Clients, package: dict, s: DeploySettings, workdir: Path, ab_package: dict | None = None,
    sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> dict:
    """Deploy `package` (plus `ab_package` as a weighted second variant); returns deployment.json's content."""
    sm = clients.sagemaker
    if s.capture_percentage > 0 and not s.capture_destination:
        raise ConfigError("capture_destination is required for data capture (s3://bucket/prefix); "
                          "capture_percentage 0 turns capture off")
    deployed = [(PRIMARY, package)] + ([(SECONDARY, ab_package)] if ab_package else [])
    for _, pkg in deployed:
        verify_artifact(clients, pkg, Path(workdir) / str(pkg.get("ModelPackageVersion")))
    existing = describe_endpoint(sm, s.endpoint_name)
    if existing is not None and existing["EndpointStatus"] != "InService":
        raise ConfigError(
            f"endpoint {s.endpoint_name} is {existing['EndpointStatus']}: wait for it, or remove it with "
            f"`python -m registry delete-endpoint {s.endpoint_name}`"
        )
    stamp = now().strftime("%Y%m%d%H%M%S")
    version = package.get("ModelPackageVersion", 0)
    config_name = resource_name(s.endpoint_name, version, stamp)
    models = []
    for variant, pkg in deployed:
        model_name = resource_name(s.endpoint_name, pkg.get("ModelPackageVersion", 0), f"{stamp}-{variant[0]}")
        sm.create_model(**model_request(model_name, pkg, s.role_arn))
        weight = (s.ab_weight if variant == SECONDARY else 1.0 - s.ab_weight) if ab_package else 1.0
        models.append((variant, model_name, weight))
    sm.create_endpoint_config(**endpoint_config_request(config_name, models, s))

    if existing is None:
        sm.create_endpoint(EndpointName=s.endpoint_name, EndpointConfigName=config_name,
                           Tags=[{"Key": PACKAGE_TAG, "Value": package["ModelPackageArn"]}])
        action, cleaned = "created", []
    else:
        sm.update_endpoint(**update_request(s.endpoint_name, config_name, s))
        action = "updated"
    endpoint = wait_until_settled(sm, s.endpoint_name, s.timeout, s.poll, sleep)
    if endpoint["EndpointStatus"] != "InService" or endpoint.get("EndpointConfigName") != config_name:
        reason = endpoint.get("FailureReason") or "no FailureReason given"
        if existing is not None and endpoint["EndpointStatus"] == "InService":
            delete_config_and_models(sm, config_name)  # rolled back: the old config serves, the new one goes
            raise DeploymentFailed(
                f"endpoint {s.endpoint_name}: the update to {package['ModelPackageArn']} was rolled back, "
                f"{existing['EndpointConfigName']} still serves ({reason})"
            )
        raise DeploymentFailed(f"endpoint {s.endpoint_name} is {endpoint['EndpointStatus']}: {reason}")
    if existing is not None:
        keep = tuple(model for _, model, _ in models)
        cleaned = delete_config_and_models(sm, existing["EndpointConfigName"], keep)

    scaling = []
    if s.max_instances > s.min_instances:
        for variant, _, _ in models:
            clients.autoscaling.register_scalable_target(**scalable_target_request(s.endpoint_name, variant, s))
            clients.autoscaling.put_scaling_policy(**scaling_policy_request(s.endpoint_name, variant, s))
            scaling.append(variant)
    return {
        "endpoint_name": s.endpoint_name,
        "endpoint_arn": endpoint.get("EndpointArn"),
        "status": endpoint["EndpointStatus"],
        "action": action,
        "endpoint_config_name": config_name,
        "model_package_arn": package["ModelPackageArn"],
        "model_package_version": version,
        "variants": [
            {"variant": variant, "model_name": model, "weight": weight, "model_package_arn": pkg["ModelPackageArn"],
             "model_package_version": pkg.get("ModelPackageVersion")}
            for (variant, model, weight), (_, pkg) in zip(models, deployed)
        ],
        "autoscaling": scaling,
        "deleted": cleaned,
        "url": invocations_url(clients, s.endpoint_name),
    }


def teardown(clients: Clients, endpoint_name: str) -> list[str]:
    """Delete an endpoint with its EndpointConfig, Models and scaling targets; returns what was deleted."""
    sm = clients.sagemaker
    endpoint = describe_endpoint(sm, endpoint_name)
    if endpoint is None:
        raise ConfigError(f"endpoint {endpoint_name} does not exist")
    deleted = []
    for variant in endpoint.get("ProductionVariants", []):
        resource = f"endpoint/{endpoint_name}/variant/{variant['VariantName']}"
        if _delete_quietly(clients.autoscaling.deregister_scalable_target, ServiceNamespace="sagemaker",
                           ResourceId=resource, ScalableDimension=SCALABLE_DIMENSION):
            deleted.append(resource)
    sm.delete_endpoint(EndpointName=endpoint_name)
    deleted.append(endpoint_name)
    return deleted + delete_config_and_models(sm, endpoint["EndpointConfigName"])
