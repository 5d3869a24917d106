"""Control plane fixtures: one in-process control plane per module on 127.0.0.1, boto3 clients
pointed at it, and packed model.tar.gz files (a real artifact, and one whose model file was altered)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from localrun.controlplane.server import ControlPlane
from plane_clients import client


@pytest.fixture(scope="session")
def model_tar(tmp_path_factory, model_dir) -> Path:
    from contract import modeltar

    return modeltar.pack(model_dir, tmp_path_factory.mktemp("packed") / "model.tar.gz")


@pytest.fixture(scope="session")
def corrupt_model_tar(tmp_path_factory, model_dir) -> Path:
    """The same artifact with model.joblib altered after its SHA-256 was recorded: serve never turns healthy."""
    from contract import modeltar

    altered = tmp_path_factory.mktemp("altered") / "model"
    shutil.copytree(model_dir, altered)
    with open(altered / "model.joblib", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00" * 16)
    return modeltar.pack(altered, tmp_path_factory.mktemp("altered-packed") / "model.tar.gz")


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    control = ControlPlane(tmp_path_factory.mktemp("controlplane"))
    control.hosting.health_timeout = 900  # a loaded CI machine starts serve slowly; SageMaker's 4 minutes is the default
    control.start()
    try:
        yield control
    finally:
        control.stop()
        assert not control.hosting.runtimes
        assert not control.store.recorded_hosts(), "a host was left running"


@pytest.fixture(scope="module")
def sm(plane):
    return client("sagemaker", plane.url)


@pytest.fixture(scope="module")
def smr(plane):
    return client("sagemaker-runtime", plane.url)
