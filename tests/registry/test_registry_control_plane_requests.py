"""register.py and deploy.py, their `main()` run in this process on the `sagemaker` backend against the
local control plane on 127.0.0.1 (its endpoint hosts are small stub HTTP servers), through every code
path: first model, challenger approved, pending, rejected, a rerun; deploy's create, blue/green update,
unchanged (pending, rejected), A/B, rollback, and nothing approved yet.

Every request the steps send is recorded (botocore's `provide-client-params`, so what the code asked
for) and checked against the service model by the control plane's own validator: ParamValidator plus
the model's enum, length, range and pattern rules. And offline: every request botocore sends
(`before-send`) and every socket connect of the run goes to 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import sys
import threading
from collections import Counter
from pathlib import Path

import boto3
import pytest

from common.storage import write_table
from localrun.controlplane.server import ControlPlane
from registry.client import Clients
from registry.deployment import DeploymentFailed
from registry.scoring import score
from tests.registry.conftest import pack, validation_errors

ENDPOINT = "lending-live"
GROUP, CANARY_GROUP, WAITING_GROUP = "lending", "lending-canary", "lending-waiting"
FAILS = "FAILS"  # a file in the model: the stub host answers its invocations (and the smoke request) with 500


class StubHost:
    """/ping 200; /invocations 200, or 500 for a model that carries the FAILS file."""

    def __init__(self, tree: Path, port: int):
        failing = (tree / "model" / FAILS).exists()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer(200, b"{}")

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(500 if failing else 200, b'{"predictions": []}')

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class StubEngine:
    def serve(self, tree: Path, port: int) -> StubHost:
        return StubHost(tree, port)


class Journal:
    """What the steps' clients asked for and sent, and every socket connect of the run."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.sent: list[str] = []
        self.connects: list[object] = []

    def hook(self, client) -> None:
        client.meta.events.register("provide-client-params.*.*", self._record)
        client.meta.events.register("before-send.*.*", lambda request, **_: self.sent.append(request.url))

    def _record(self, params, model, **_):
        self.calls.append((model.service_model.service_name, model.name, json.loads(json.dumps(params, default=str))))


def variant_of(source: Path, directory: Path, marker: str, name: str = "note.txt") -> Path:
    """The same model with one more file: another artifact (another SHA-256) that loads as the source does."""
    shutil.copytree(source, directory)
    (directory / name).write_text(marker)
    return directory


def run_step(module, tree: Path, args: dict, monkeypatch) -> None:
    argv = [f"{module.__name__}.py"]
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tree))
    monkeypatch.setattr(sys, "argv", argv)
    module.main()


@pytest.fixture(scope="module")
def journey(tmp_path_factory, model_dir, weak_model_dir, lending_split):
    import deploy as deploy_step
    import register as register_step

    test_rows = lending_split[3]
    root = tmp_path_factory.mktemp("journey")
    plane = ControlPlane(root / "state", engine=StubEngine(), engine_name="stub")
    journal = Journal()
    real_connect, real_client = socket.socket.connect, Clients._client

    def counting_connect(sock, address):
        journal.connects.append(address)
        return real_connect(sock, address)

    def hooked_client(clients, service):
        made = service not in clients._made
        client = real_client(clients, service)
        if made:
            journal.hook(client)
        return client

    strong, weak = score(model_dir, test_rows), score(weak_model_dir, test_rows)
    assert strong > weak + 0.01 and weak > 0.6  # the paths below rely on it
    decisions, records, failures = {}, {}, {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(socket.socket, "connect", counting_connect)
        monkeypatch.setattr(Clients, "_client", hooked_client)
        plane.start()
        api = {"backend": "sagemaker", "endpoint_url": plane.url, "region": "us-east-1"}
        try:
            def register(name: str, model: Path, value: float, group: str = GROUP, **extra) -> dict:
                tree = root / f"register-{name}"
                pack(model, tree / "processing" / "input" / "model" / "model.tar.gz")
                write_table(test_rows, tree / "processing" / "input" / "test" / "test.parquet")
                evaluation = tree / "processing" / "input" / "evaluation" / "evaluation.json"
                evaluation.parent.mkdir(parents=True)
                evaluation.write_text(json.dumps({"gate": {"metric": "auc", "value": value, "higher_is_better": True,
                                                           "baseline": 0.5}}))
                run_step(register_step, tree, {"model_package_group": group, "image_uri": "sagemaker-steps-train:abc",
                                               "floor": 0.6, "margin": 0.001, "git_commit": "2f8b224", **api, **extra},
                         monkeypatch)
                decisions[name] = json.loads((tree / "processing" / "output" / "registration" / "decision.json").read_text())
                return decisions[name]

            def deploy(name: str, after: str | None, group: str = GROUP, **extra) -> dict:
                tree = root / f"deploy-{name}"
                if after is not None:
                    shutil.copytree(root / f"register-{after}" / "processing" / "output" / "registration",
                                    tree / "processing" / "input" / "registration")
                args = {"model_package_group": group, "endpoint_name": ENDPOINT, "poll": 0.2, "timeout": 300,
                        "capture_destination": (root / "capture").as_uri(), "traffic": "CANARY", "step_percent": 50,
                        "wait_interval": 0, "termination_wait": 0, "alarms": "lending-live-5xx", "max_instances": 2,
                        **api, **extra}
                try:
                    run_step(deploy_step, tree, args, monkeypatch)
                except DeploymentFailed as exc:
                    failures[name] = str(exc)
                    return {}
                records[name] = json.loads((tree / "processing" / "output" / "deployment" / "deployment.json").read_text())
                return records[name]

            register("first", weak_model_dir, weak)
            deploy("create", "first")
            register("approved", model_dir, strong)
            deploy("update", "approved")
            register("rerun", model_dir, strong)
            register("pending", variant_of(model_dir, root / "pending-model", "pending"), strong)
            deploy("after-pending", "pending")
            register("rejected", variant_of(model_dir, root / "rejected-model", "rejected"), strong, floor=min(1.0, strong + 0.01))
            deploy("after-rejected", "rejected")
            deploy("ab", None, ab_version=1, ab_weight=0.25)
            register("canary", variant_of(weak_model_dir, root / "failing-model", "fails", FAILS), weak, group=CANARY_GROUP)
            deploy("rollback", "canary", group=CANARY_GROUP)
            register("waiting", weak_model_dir, weak, group=WAITING_GROUP, auto_approve="false")
            deploy("nothing-approved", "waiting", group=WAITING_GROUP)
            endpoint = boto3.client("sagemaker", endpoint_url=plane.url, region_name="us-east-1", aws_access_key_id="x",
                                    aws_secret_access_key="x").describe_endpoint(EndpointName=ENDPOINT)
        finally:
            plane.stop()
    return {"plane_url": plane.url, "journal": journal, "decisions": decisions, "records": records,
            "failures": failures, "endpoint": endpoint}


def test_every_code_path_ends_as_it_should(journey):
    decisions, records = journey["decisions"], journey["records"]
    assert {name: (d["status"], d["registered"]) for name, d in decisions.items()} == {
        "first": ("Approved", True), "approved": ("Approved", True), "rerun": ("Approved", False),
        "pending": ("PendingManualApproval", True), "rejected": ("Rejected", True),
        "canary": ("Approved", True), "waiting": ("PendingManualApproval", True)}
    assert decisions["first"]["champion"] is None and decisions["approved"]["champion"]["version"] == 1
    assert {name: r["action"] for name, r in records.items()} == {
        "create": "created", "update": "updated", "after-pending": "unchanged", "after-rejected": "unchanged",
        "ab": "updated", "nothing-approved": "none"}
    assert records["create"]["autoscaling"] == ["primary"] and records["update"]["model_package_version"] == 2
    assert [(v["variant"], v["weight"], v["model_package_version"]) for v in records["ab"]["variants"]] == [
        ("primary", 0.75, 2), ("secondary", 0.25, 1)]
    assert list(journey["failures"]) == ["rollback"] and "was rolled back" in journey["failures"]["rollback"]
    endpoint = journey["endpoint"]  # the rollback left the A/B configuration serving
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == records["ab"]["endpoint_config_name"]


# every operation the two steps send on these paths (the list in the report)
OPERATIONS = {
    ("sagemaker", "CreateModelPackageGroup"), ("sagemaker", "DescribeModelPackageGroup"),
    ("sagemaker", "ListModelPackages"), ("sagemaker", "DescribeModelPackage"), ("sagemaker", "CreateModelPackage"),
    ("sagemaker", "CreateModel"), ("sagemaker", "CreateEndpointConfig"), ("sagemaker", "CreateEndpoint"),
    ("sagemaker", "DescribeEndpoint"), ("sagemaker", "DescribeEndpointConfig"), ("sagemaker", "DescribeModel"),
    ("sagemaker", "UpdateEndpoint"),
    ("sagemaker", "DeleteEndpointConfig"), ("sagemaker", "DeleteModel"),
    ("application-autoscaling", "RegisterScalableTarget"), ("application-autoscaling", "PutScalingPolicy"),
}


def test_every_request_is_valid_for_the_service_model(journey):
    calls = journey["journal"].calls
    counted = Counter((service, operation) for service, operation, _ in calls)
    print("requests by operation:", dict(sorted(counted.items())))
    assert set(counted) == OPERATIONS
    errors = [error for service, operation, params in calls for error in validation_errors(service, operation, params)]
    assert errors == []
    # the same check on one of these requests with a 64-character name: it can fail
    [create] = [params for _, operation, params in calls if operation == "CreateEndpoint"]
    [length, pattern] = validation_errors("sagemaker", "CreateEndpoint", {**create, "EndpointName": "e" * 64})
    assert "Member must have length less than or equal to 63" in length and "regular expression pattern" in pattern


def test_every_request_of_the_run_went_to_127_0_0_1(journey):
    journal, url = journey["journal"], journey["plane_url"]
    assert url.startswith("http://127.0.0.1:")
    print(f"before-send: {len(journal.sent)} requests, socket connects: {len(journal.connects)}")
    assert len(journal.sent) >= len(journal.calls) > 0  # each asked-for request was sent (retries would add)
    assert all(sent.startswith(url + "/") or sent == url for sent in journal.sent), set(journal.sent) - {url + "/"}
    assert journal.connects and all(isinstance(a, tuple) and a[0] == "127.0.0.1" for a in journal.connects), \
        {a for a in journal.connects if not (isinstance(a, tuple) and a[0] == "127.0.0.1")}
