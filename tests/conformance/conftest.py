"""The conformance tier: AWS's own SageMaker Python SDK (local mode) runs the project's images, and
what they produce is compared with the project's own runner (localrun) on the same data and seed.

The tests run in .venv (the project's environment); the SDK runs in .venv-pipelines (it needs
protobuf<7), driven through tests/conformance/sdk_local.py. The engine and image fixtures are the
container tier's: without an engine the tier skips, under CI=true it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localrun.engines import ProcessEngine
from localrun.pipeline import RunConfig, run_pipeline
from localrun.runner import LocalSession
from pipeline.spec import CLASSIFIER
from tests.conftest import DATA, REPO
from tests.containers.conftest import engine, process_image, train_image  # noqa: F401 - fixtures reused

SDK_PYTHON = Path(os.environ.get("PIPELINES_PYTHON", REPO / ".venv-pipelines" / "bin" / "python"))
DRIVER = Path(__file__).with_name("sdk_local.py")


@pytest.fixture(scope="session")
def runner_run(tmp_path_factory):
    """The project's own runner, every step as a local process, on lending_club with the spec's defaults."""
    run_dir = tmp_path_factory.mktemp("runner")
    run_pipeline(RunConfig(CLASSIFIER, parameters={"InputData": str(DATA)}), LocalSession(run_dir, ProcessEngine()))
    return run_dir


@pytest.fixture(scope="session")
def moto_url():
    """S3 (and STS, which the SDK asks for the account) from moto on 127.0.0.1: the SDK's Processor
    and Model look up the default bucket even when every input and output is a file:// path."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _sdk_environment(tmp: Path, moto_url: str) -> dict[str, str]:
    defaults = tmp / "sagemaker-defaults.yaml"
    defaults.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
    env = {**os.environ, "SAGEMAKER_USER_CONFIG_OVERRIDE": str(defaults), "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(defaults),
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": "", "AWS_ENDPOINT_URL": moto_url,
           "AWS_ACCESS_KEY_ID": "conformance", "AWS_SECRET_ACCESS_KEY": "conformance"}
    return env


@pytest.fixture
def sdk(engine, tmp_path, moto_url):  # noqa: F811 - the container tier's fixture
    """sdk(request) -> (result, log): one local-mode job through the SDK, its containers and networks removed after."""
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} missing: run `make pipelines-setup`", pytrace=False)
    before = {c.id for c in engine.containers.list(all=True)}, {n.id for n in engine.networks.list()}
    calls = iter(range(1000))

    def run(request: dict, expect_success: bool = True) -> tuple[dict | None, str]:
        n = next(calls)
        request = {"container_root": str(tmp_path / f"sdk-root-{n}"), **request}
        Path(request["container_root"]).mkdir(parents=True, exist_ok=True)
        path = tmp_path / f"request-{n}.json"
        path.write_text(json.dumps(request))
        started = time.monotonic()
        done = subprocess.run([str(SDK_PYTHON), str(DRIVER), str(path)], capture_output=True, text=True,
                              env=_sdk_environment(tmp_path, moto_url), timeout=600, cwd=tmp_path)
        log = done.stdout + done.stderr
        print(f"sdk {request['kind']}: {time.monotonic() - started:.1f} s, exit {done.returncode}")
        results = [line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("SDK-RESULT ")]
        if expect_success and (done.returncode != 0 or not results):
            raise AssertionError(f"SDK local-mode {request['kind']} failed (exit {done.returncode}):\n{log[-6000:]}")
        return (json.loads(results[-1]) if results else None), log

    try:
        yield run
    finally:
        for container in engine.containers.list(all=True):
            if container.id not in before[0]:
                container.remove(force=True)
        for network in engine.networks.list():
            if network.id not in before[1] and network.name not in ("bridge", "host", "none"):
                network.remove()
