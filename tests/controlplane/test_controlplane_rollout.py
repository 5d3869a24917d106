"""Traffic shifting, error-rate rollback and restoring after a restart, with hosts that are small
in-process HTTP servers (an engine with the same `serve(tree, port) -> handle` interface), so that a
model failing on live traffic but not on its health check can be staged."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
import time
from pathlib import Path

import pytest

from plane_clients import client, wait_status

from localrun.controlplane.deployment import traffic_steps
from localrun.controlplane.hosting import Fleet, Host, Variant
from localrun.controlplane.server import ControlPlane


class StubHost:
    """/ping 200; /invocations answers 200 with the model's name, or 500 when the model says "fail"."""

    def __init__(self, tree: Path, port: int):
        behaviour = (tree / "model" / "behaviour.txt").read_text().strip()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer(200, b"{}")

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(500 if behaviour == "fail" else 200, behaviour.encode())

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.stopped = False

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.stopped = True


class StubEngine:
    def __init__(self):
        self.started: list[StubHost] = []

    def serve(self, tree: Path, port: int) -> StubHost:
        host = StubHost(tree, port)
        self.started.append(host)
        return host


def stub_model(path: Path, behaviour: str) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        data = behaviour.encode()
        info = tarfile.TarInfo("behaviour.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def stub_plane(tmp_path):
    engine = StubEngine()
    control = ControlPlane(tmp_path / "state", engine=engine, engine_name="stub")
    control.start()
    try:
        yield control, engine
    finally:
        control.stop()
        assert all(host.stopped for host in engine.started), "a host was left running"


def deploy(sm, tmp_path: Path, name: str, behaviour: str) -> str:
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/local",
                    PrimaryContainer={"Image": "stub", "ModelDataUrl": str(stub_model(tmp_path / f"{name}.tar.gz", behaviour))})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": name, "ModelName": name, "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}])
    return name


def test_traffic_steps_of_each_policy():
    fleet = Fleet("c", [Variant("v", 1.0, [Host("v", 1, Path("."), None)] * 4)])
    assert traffic_steps({}, fleet) == [(1.0, 0.0)]
    assert traffic_steps({"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 5}},
                         fleet) == [(1.0, 5.0)]
    canary = {"Type": "CANARY", "WaitIntervalInSeconds": 2, "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}
    assert traffic_steps({"TrafficRoutingConfiguration": canary}, fleet) == [(0.25, 2.0), (1.0, 0.0)]
    linear = {"Type": "LINEAR", "WaitIntervalInSeconds": 1, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 30}}
    assert traffic_steps({"TrafficRoutingConfiguration": linear}, fleet) == [(0.3, 1.0), (0.6, 1.0), (0.9, 1.0),
                                                                             (1.0, 1.0)]


def test_errors_from_the_new_fleet_during_a_canary_roll_traffic_back(stub_plane, tmp_path):
    control, engine = stub_plane
    sm, smr = client("sagemaker", control.url), client("sagemaker-runtime", control.url)
    sm.create_endpoint(EndpointName="svc", EndpointConfigName=deploy(sm, tmp_path, "good", "good"))
    wait_status(sm, "svc")
    deploy(sm, tmp_path, "bad", "fail")
    sm.update_endpoint(EndpointName="svc", EndpointConfigName="bad", DeploymentConfig={
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 30, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}},
            "TerminationWaitInSeconds": 0},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "5xx"}]}})
    answers = []
    deadline = time.monotonic() + 60
    while sm.describe_endpoint(EndpointName="svc")["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline
        try:
            answers.append(smr.invoke_endpoint(EndpointName="svc", Body=b"x")["InvokedProductionVariant"])
        except smr.exceptions.ModelError as exc:
            assert exc.response["OriginalStatusCode"] == 500
            answers.append("error")
    described = sm.describe_endpoint(EndpointName="svc")
    assert described["EndpointConfigName"] == "good"
    assert "rolled back" in described["FailureReason"] and "with an error" in described["FailureReason"]
    assert described["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "5xx"}]
    assert "error" in answers  # the canary took traffic, and failed it
    after = [smr.invoke_endpoint(EndpointName="svc", Body=b"x")["Body"].read() for _ in range(10)]
    assert after == [b"good"] * 10
    assert sum(not host.stopped for host in engine.started) == 2  # the canary fleet is gone


def test_a_restarted_control_plane_brings_endpoints_back_on_their_ports(tmp_path):
    state = tmp_path / "state"
    first_engine, second_engine = StubEngine(), StubEngine()
    first = ControlPlane(state, engine=first_engine, engine_name="stub")
    first.start()
    sm = client("sagemaker", first.url)
    sm.create_endpoint(EndpointName="kept", EndpointConfigName=deploy(sm, tmp_path, "model", "kept"))
    wait_status(sm, "kept")
    port = first.store.get("Endpoint", "kept")["_Port"]
    api_port = first.server.server_address[1]
    first.stop()
    assert all(host.stopped for host in first_engine.started)

    second = ControlPlane(state, engine=second_engine, engine_name="stub")
    second.start(api_port)
    try:
        sm = client("sagemaker", second.url)
        wait_status(sm, "kept")
        assert second.store.get("Endpoint", "kept")["_Port"] == port
        smr = client("sagemaker-runtime", second.url)
        assert smr.invoke_endpoint(EndpointName="kept", Body=b"x")["Body"].read() == b"kept"
        from localrun.endpoint import invoke

        assert invoke(f"http://127.0.0.1:{port}", b"x") == (200, "kept")
    finally:
        second.stop()
    assert len(second_engine.started) == 2 and all(host.stopped for host in second_engine.started)
