"""Endpoints hosted by the real `scripts/serve` process: create, invoke through the runtime API,
A/B weights, data capture, a blue/green update under a polling client, an update whose model fails
its self-test rolled back, and a teardown that leaves no host behind."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from plane_clients import client, wait_status

from localrun.controlplane import client as api

NAME = "churn"


class Poller:
    """A client invoking the endpoint in a loop; counts answers per variant and every failure."""

    def __init__(self, url: str, body: str):
        self.runtime = client("sagemaker-runtime", url)
        self.body = body
        self.sent, self.failures, self.variants = 0, [], Counter()
        self.first_seen: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sent += 1
            try:
                answer = self.runtime.invoke_endpoint(EndpointName=NAME, Body=self.body, ContentType="text/csv")
                answer["Body"].read()
                variant = answer["InvokedProductionVariant"]
                self.variants[variant] += 1
                self.first_seen.setdefault(variant, time.monotonic())
            except Exception as exc:
                self.failures.append(repr(exc))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()


@pytest.fixture(scope="module")
def rows(lending_split):
    return lending_split[3].head(2).to_csv(index=False)


@pytest.fixture(scope="module")
def endpoint(plane, sm, model_tar, tmp_path_factory):
    capture = tmp_path_factory.mktemp("capture")
    for model in ("churn-v1", "churn-v2"):
        sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::000000000000:role/local",
                        PrimaryContainer={"Image": "sagemaker-steps-train:latest", "ModelDataUrl": f"file://{model_tar}"})
    sm.create_endpoint_config(EndpointConfigName="churn-ab", ProductionVariants=[
        {"VariantName": "blue-a", "ModelName": "churn-v1", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 1.0},
        {"VariantName": "blue-b", "ModelName": "churn-v1", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 1.0}],
        DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": f"file://{capture}",
                           "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    sm.create_endpoint(EndpointName=NAME, EndpointConfigName="churn-ab")
    try:
        yield capture
    finally:
        if plane.store.get("Endpoint", NAME):
            sm.delete_endpoint(EndpointName=NAME)


def test_create_describe_and_invoke_with_weights(plane, sm, smr, endpoint, rows):
    assert sm.describe_endpoint(EndpointName=NAME)["EndpointStatus"] == "Creating"
    described = wait_status(sm, NAME)
    assert [(v["VariantName"], v["CurrentWeight"]) for v in described["ProductionVariants"]] == \
        [("blue-a", 1.0), ("blue-b", 1.0)]
    seen = Counter()
    for _ in range(40):
        answer = smr.invoke_endpoint(EndpointName=NAME, Body=rows, ContentType="text/csv", Accept="application/json")
        predictions = json.loads(answer["Body"].read())["predictions"]
        assert len(predictions) == 2 and 0 <= predictions[0]["probability"] <= 1
        seen[answer["InvokedProductionVariant"]] += 1
    assert set(seen) == {"blue-a", "blue-b"} and min(seen.values()) >= 5, seen
    targeted = smr.invoke_endpoint(EndpointName=NAME, Body=rows, ContentType="text/csv", TargetVariant="blue-b")
    assert targeted["InvokedProductionVariant"] == "blue-b"
    # the endpoint's own stable port answers the container's path too, with the variant header
    from localrun.endpoint import invoke
    import urllib.request

    status, body = invoke(plane.endpoint_url(NAME), rows.encode())
    assert status == 200 and "predictions" in body
    with urllib.request.urlopen(urllib.request.Request(f"{plane.endpoint_url(NAME)}/invocations", data=rows.encode(),
                                headers={"Content-Type": "text/csv"})) as response:
        assert response.headers["X-Amzn-Invoked-Production-Variant"] in {"blue-a", "blue-b"}


def test_model_errors_come_back_as_the_runtime_api_sends_them(smr, endpoint):
    with pytest.raises(smr.exceptions.ModelError) as error:
        smr.invoke_endpoint(EndpointName=NAME, Body=b"1,2,3\n", ContentType="text/csv")
    assert error.value.response["OriginalStatusCode"] == 400
    assert "expected 22" in error.value.response["OriginalMessage"]
    with pytest.raises(smr.exceptions.ValidationError):
        smr.invoke_endpoint(EndpointName="absent", Body=b"1", ContentType="text/csv")


def test_data_capture_writes_model_monitor_records(endpoint, rows):
    files = sorted(endpoint.rglob("*.jsonl"))
    assert files and {f.relative_to(endpoint).parts[:2] for f in files} <= {(NAME, "blue-a"), (NAME, "blue-b")}
    assert len(files[0].relative_to(endpoint).parts) == 7  # endpoint/variant/yyyy/mm/dd/hh/file
    record = json.loads(files[0].read_text().splitlines()[0])
    assert record["eventVersion"] == "0" and record["eventMetadata"]["eventId"]
    captured = record["captureData"]
    assert captured["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT", "data": rows,
                                         "encoding": "CSV"}
    assert captured["endpointOutput"]["mode"] == "OUTPUT" and captured["endpointOutput"]["encoding"] == "JSON"
    assert "predictions" in captured["endpointOutput"]["data"]


def test_blue_green_update_with_a_polling_client_fails_no_request(plane, sm, endpoint, rows):
    sm.create_endpoint_config(EndpointConfigName="churn-green", ProductionVariants=[
        {"VariantName": "green", "ModelName": "churn-v2", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    with Poller(plane.url, rows) as poller:
        time.sleep(0.5)
        started = time.monotonic()
        sm.update_endpoint(EndpointName=NAME, EndpointConfigName="churn-green", DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "LINEAR", "WaitIntervalInSeconds": 1,
                                                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}},
                "TerminationWaitInSeconds": 1, "MaximumExecutionTimeoutInSeconds": 600}})
        assert sm.describe_endpoint(EndpointName=NAME)["EndpointStatus"] == "Updating"
        described = wait_status(sm, NAME, timeout=600)
        time.sleep(0.5)
    assert described["EndpointConfigName"] == "churn-green" and "FailureReason" not in described
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["green"]
    print(f"\nblue/green: {poller.sent} requests sent, {len(poller.failures)} failed, new model serving "
          f"{poller.first_seen['green'] - started:.1f} s after UpdateEndpoint, update complete "
          f"{plane.store.get('Endpoint', NAME)['_LastUpdateSeconds']:.1f} s; by variant {dict(poller.variants)}")
    assert poller.failures == []
    assert poller.variants["green"] > 0 and poller.variants["blue-a"] + poller.variants["blue-b"] > 0
    deadline = time.monotonic() + 120  # the old fleet drains and stops after the endpoint is InService
    while {row["tree"].split("/")[-1] for row in plane.store.recorded_hosts()} != {"green-1"}:
        assert time.monotonic() < deadline, [row["tree"] for row in plane.store.recorded_hosts()]
        time.sleep(0.2)


def test_an_update_whose_model_fails_its_self_test_rolls_back(plane, sm, endpoint, rows, corrupt_model_tar):
    sm.create_model(ModelName="churn-broken", ExecutionRoleArn="arn:aws:iam::000000000000:role/local",
                    PrimaryContainer={"Image": "sagemaker-steps-train:latest", "ModelDataUrl": str(corrupt_model_tar)})
    sm.create_endpoint_config(EndpointConfigName="churn-broken", ProductionVariants=[
        {"VariantName": "broken", "ModelName": "churn-broken", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    with Poller(plane.url, rows) as poller:
        sm.update_endpoint(EndpointName=NAME, EndpointConfigName="churn-broken")
        deadline = time.monotonic() + 600
        while (described := sm.describe_endpoint(EndpointName=NAME))["EndpointStatus"] != "InService":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
    assert described["EndpointConfigName"] == "churn-green"
    assert "rolled back" in described["FailureReason"] and "SHA-256" in described["FailureReason"]
    assert poller.failures == [] and set(poller.variants) == {"green"}, (poller.failures[:3], poller.variants)


def test_teardown_removes_the_endpoint_its_config_and_models(plane, sm, endpoint):
    deleted = api.tear_down(plane.url, NAME)
    assert deleted[:3] == [f"endpoint {NAME}", "endpoint config churn-green", "model churn-v2"]
    assert plane.store.recorded_hosts() == [] and NAME not in plane.hosting.runtimes
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_endpoint(EndpointName=NAME)
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == []
