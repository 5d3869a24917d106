"""deploy's core: the create path against moto, the blue/green update path through botocore's Stubber
(moto has no UpdateEndpoint; the Stubber checks each request against the real service model)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from common.errors import ConfigError
from registry import deployment, packages
from registry.artifacts import ArtifactMismatch
from registry.deployment import DeploymentFailed, DeploySettings
from common.storage import sha256_file
from tests.registry.conftest import BUCKET, pack

GROUP = "lending"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
SETTINGS = DeploySettings(
    endpoint_name="lending-live", role_arn=ROLE, capture_destination=f"s3://{BUCKET}/capture",
    capture_percentage=50, poll=0, timeout=5,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """deploy checks bytes, never loads them: any model.tar.gz will do (register's tests use trained ones)."""
    directory = tmp_path_factory.mktemp("deploy")
    (directory / "model").mkdir()
    (directory / "model" / "metadata.json").write_text('{"format_version": 1}')
    return pack(directory / "model", directory / "model.tar.gz")


def put_package(clients, archive, status="Approved", key="m/model.tar.gz") -> dict:
    clients.s3.upload_file(str(archive), BUCKET, key)
    packages.ensure_group(clients.sagemaker, GROUP)
    sha = sha256_file(archive)
    request = packages.package_request(
        GROUP, "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-steps-train:abc", f"s3://{BUCKET}/{key}",
        sha, status, "test", packages.metadata(artifact_sha256=sha), instance_types=["ml.m5.large"],
    )
    request["ClientToken"] = key.replace("/", "-").replace(".", "-")[:36]
    arn = clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
    return clients.sagemaker.describe_model_package(ModelPackageName=arn)


def test_first_deployment_creates_model_config_with_capture_endpoint_and_scaling(clients, archive, tmp_path):
    package = put_package(clients, archive)
    settings = DeploySettings(**{**SETTINGS.__dict__, "max_instances": 4, "invocations_per_instance": 70.0})
    chosen = deployment.approved_package(clients.sagemaker, GROUP)
    record = deployment.deploy(clients, chosen, settings, tmp_path, now=lambda: NOW)
    assert record["status"] == "InService" and record["action"] == "created"
    assert record["model_package_arn"] == package["ModelPackageArn"] and record["model_package_version"] == 1
    assert record["url"] == f"{clients.endpoint_url}/endpoints/lending-live/invocations"
    sm = clients.sagemaker
    endpoint = sm.describe_endpoint(EndpointName="lending-live")
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["EndpointConfigName"] == "lending-live-v1-20261129120000"
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{BUCKET}/capture"
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{BUCKET}/m/model.tar.gz"
    targets = clients.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("endpoint/lending-live/variant/primary", 1, 4)]
    policy = clients.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 70.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_ab_deployment_serves_two_weighted_variants(clients, archive, tmp_path):
    first = put_package(clients, archive, key="m/a/model.tar.gz")
    second = put_package(clients, archive, key="m/b/model.tar.gz")
    settings = DeploySettings(**{**SETTINGS.__dict__, "ab_weight": 0.2})
    record = deployment.deploy(clients, second, settings, tmp_path, ab_package=first, now=lambda: NOW)
    assert [(v["variant"], v["weight"], v["model_package_version"]) for v in record["variants"]] == [
        ("primary", 0.8, 2), ("secondary", 0.2, 1)]
    endpoint = clients.sagemaker.describe_endpoint(EndpointName="lending-live")
    assert sorted(v["CurrentWeight"] for v in endpoint["ProductionVariants"]) == [0.2, 0.8]


def test_a_package_not_approved_is_refused(clients, archive):
    put_package(clients, archive, status="PendingManualApproval")
    with pytest.raises(ConfigError, match="is PendingManualApproval: only Approved packages deploy"):
        deployment.approved_package(clients.sagemaker, GROUP, 1)
    with pytest.raises(ConfigError, match="has no Approved package"):
        deployment.approved_package(clients.sagemaker, GROUP)


def test_an_artifact_that_does_not_match_its_sha256_is_refused(clients, archive, tmp_path):
    package = put_package(clients, archive)
    clients.s3.put_object(Bucket=BUCKET, Key="m/model.tar.gz", Body=b"not the registered model")
    with pytest.raises(ArtifactMismatch, match=package["ModelPackageArn"]):
        deployment.deploy(clients, package, SETTINGS, tmp_path, now=lambda: NOW)
    assert deployment.describe_endpoint(clients.sagemaker, "lending-live") is None
    assert clients.recorder.of("CreateModel") == []


def test_teardown_removes_endpoint_config_models_and_scaling(clients, archive, tmp_path):
    package = put_package(clients, archive)
    settings = DeploySettings(**{**SETTINGS.__dict__, "max_instances": 2})
    record = deployment.deploy(clients, package, settings, tmp_path, now=lambda: NOW)
    deleted = deployment.teardown(clients, "lending-live")
    assert "lending-live" in deleted and record["endpoint_config_name"] in deleted
    assert record["variants"][0]["model_name"] in deleted
    assert deployment.describe_endpoint(clients.sagemaker, "lending-live") is None
    assert clients.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


# --- the update path, through the Stubber -----------------------------------------------------------------
def _endpoint(status, config, reason=None):
    response = {
        "EndpointName": "lending-live", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/lending-live",
        "EndpointConfigName": config, "EndpointStatus": status, "CreationTime": NOW, "LastModifiedTime": NOW,
    }
    if reason:
        response["FailureReason"] = reason
    return response


def _stub_update(stub, final):
    # expected_params None: any parameters; the Stubber still validates them against the service model
    stub.add_response("describe_endpoint", _endpoint("InService", "old-config"), {"EndpointName": "lending-live"})
    stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/new"}, None)
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/new"}, None)
    expected_update = {
        "EndpointName": "lending-live", "EndpointConfigName": "lending-live-v1-20261129120000",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY", "WaitIntervalInSeconds": 600, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                },
                "TerminationWaitInSeconds": 900,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "lending-5xx"}, {"AlarmName": "lending-latency"}]},
        },
    }
    stub.add_response("update_endpoint", {"EndpointArn": _endpoint("", "")["EndpointArn"]}, expected_update)
    stub.add_response("describe_endpoint", _endpoint("Updating", "old-config"), {"EndpointName": "lending-live"})
    stub.add_response("describe_endpoint", final, {"EndpointName": "lending-live"})


CANARY = DeploySettings(**{**SETTINGS.__dict__, "traffic": "CANARY", "wait_interval": 600, "termination_wait": 900,
                           "alarms": ("lending-5xx", "lending-latency")})


def _old_config_cleanup(stub, config, model):
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": config, "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{config}",
        "ProductionVariants": [{"VariantName": "primary", "ModelName": model}], "CreationTime": NOW,
    }, {"EndpointConfigName": config})
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": config})
    stub.add_response("delete_model", {}, {"ModelName": model})


def test_update_shifts_traffic_blue_green_then_deletes_the_old_model_and_config(clients, archive, tmp_path):
    package = put_package(clients, archive)
    sm = clients.sagemaker
    with Stubber(sm) as stub:
        _stub_update(stub, _endpoint("InService", "lending-live-v1-20261129120000"))
        _old_config_cleanup(stub, "old-config", "old-model")
        record = deployment.deploy(clients, package, CANARY, tmp_path, now=lambda: NOW, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert record["action"] == "updated" and record["deleted"] == ["old-config", "old-model"]


def test_a_rolled_back_update_fails_and_removes_what_it_created(clients, archive, tmp_path):
    package = put_package(clients, archive)
    with Stubber(clients.sagemaker) as stub:
        _stub_update(stub, _endpoint("InService", "old-config", reason="alarm lending-5xx fired; rolled back"))
        _old_config_cleanup(stub, "lending-live-v1-20261129120000", "lending-live-v1-20261129120000-p")
        with pytest.raises(DeploymentFailed, match="rolled back, old-config still serves .alarm lending-5xx fired"):
            deployment.deploy(clients, package, CANARY, tmp_path, now=lambda: NOW, sleep=lambda s: None)
        stub.assert_no_pending_responses()


def test_a_failed_creation_reports_the_failure_reason(clients, archive, tmp_path):
    package = put_package(clients, archive)
    with Stubber(clients.sagemaker) as stub:
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint 'lending-live'.")
        stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}, None)
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c"}, None)
        stub.add_response("create_endpoint", {"EndpointArn": _endpoint("", "")["EndpointArn"]}, None)
        stub.add_response("describe_endpoint", _endpoint("Failed", "c", reason="ping health check failed: 503"),
                          {"EndpointName": "lending-live"})
        with pytest.raises(DeploymentFailed, match="is Failed: ping health check failed: 503"):
            deployment.deploy(clients, package, SETTINGS, tmp_path, now=lambda: NOW, sleep=lambda s: None)


@pytest.mark.parametrize("traffic, key", [("ALL_AT_ONCE", None), ("CANARY", "CanarySize"), ("LINEAR", "LinearStepSize")])
def test_every_traffic_mode_builds_a_valid_update_request(validate, traffic, key):
    settings = DeploySettings(**{**SETTINGS.__dict__, "traffic": traffic, "step_percent": 25})
    request = deployment.update_request("lending-live", "cfg", settings)
    validate("UpdateEndpoint", request)
    routing = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == traffic and (key is None or routing[key]["Value"] == 25)
    assert "AutoRollbackConfiguration" not in request["DeploymentConfig"]  # no alarms named, none sent


def test_names_fit_sagemakers_63_characters(validate):
    name = deployment.resource_name("x" * 80, 12, "20261129120000-p")
    assert len(name) <= 63 and name.endswith("-v12-20261129120000-p")
    validate("CreateEndpointConfig", deployment.endpoint_config_request(name, [("primary", name, 1.0)], SETTINGS))
