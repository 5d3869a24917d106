"""A moto server on 127.0.0.1, clients on it that record every request, and real artifacts to register."""

from __future__ import annotations

import functools
import json
import shutil
import urllib.request
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from localrun.controlplane.protocol import constraint_errors, structural_errors

REGION = "us-east-1"
BUCKET = "models"


# --- the service model as referee -------------------------------------------------------------------------
# The local control plane's own check: ParamValidator (types, required and unknown members), then the
# model's enum, length, range and pattern rules (Java patterns read as Java reads them); a file:// URL
# (the local backend's) passes a pattern where the s3:// URL of the same path would.
@functools.lru_cache(maxsize=None)
def service_model(service: str):
    """Parsed once: the SageMaker model is megabytes of JSON, and every recorded request is checked."""
    return botocore.session.get_session().get_service_model(service)


def validation_errors(service: str, operation: str, params: dict) -> list[str]:
    model = service_model(service)
    shape = model.operation_model(operation).input_shape
    structural = structural_errors(ParamValidator().validate(params, shape))
    return [f"{operation}: {structural}"] * bool(structural) + [
        f"{operation}: {error}" for error in constraint_errors(params, shape)]


@pytest.fixture
def validate():
    def check(operation: str, params: dict, service: str = "sagemaker") -> None:
        errors = validation_errors(service, operation, params)
        assert not errors, "\n".join(errors)

    return check


# --- moto -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _warm_up(url)
    yield url
    server.stop()


def _warm_up(url: str) -> None:
    """moto builds each service's backends on first use (about 30 s on a loaded machine, past boto3's
    60 s read timeout for some): do it once here, with patience; resets later are quick."""
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=600, retries={"total_max_attempts": 1})
    kw = dict(endpoint_url=url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x", config=config)
    boto3.client("sagemaker", **kw).list_model_package_groups()
    boto3.client("s3", **kw).list_buckets()
    boto3.client("application-autoscaling", **kw).describe_scalable_targets(ServiceNamespace="sagemaker")


class Recorder:
    """Every request the code sends, by operation, validated against the service model at the end."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, params, model, **_):
        self.calls.append((model.service_model.service_name, model.name, json.loads(json.dumps(params, default=str))))

    def of(self, operation: str) -> list[dict]:
        return [params for _, name, params in self.calls if name == operation]


@pytest.fixture
def clients(moto_url, monkeypatch):
    """Clients of a fresh moto state (reset per test) that record and check every request."""
    from registry.client import make_clients

    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=120).read()  # a loaded machine answers slowly
    made = make_clients(moto_url, REGION, max_attempts=1)
    recorder = Recorder()
    for client in (made.sagemaker, made.s3, made.autoscaling):
        client.meta.events.register("provide-client-params.*.*", recorder)
    made.s3.create_bucket(Bucket=BUCKET)
    made.recorder = recorder
    yield made
    errors = [
        error for service, operation, params in recorder.calls if service != "s3"
        for error in validation_errors(service, operation, params)
    ]
    assert not errors, "\n".join(errors)


# --- artifacts --------------------------------------------------------------------------------------------
def train_artifact(directory: Path, lending_split, **params) -> Path:
    from tasks.classifier import artifact, features, modeling
    from tasks.classifier.training import TrainParams

    sch, train, validation, test = lending_split
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams(**params))
    artifact.save(directory, fitted.pipeline, sch, fitted.threshold, test.head(3),
                  data={"train_sha256": "ab" * 32})
    return directory


def pack(model_dir: Path, tar_path: Path) -> Path:
    from contract import modeltar

    return modeltar.pack(model_dir, tar_path)


@pytest.fixture(scope="session")
def weak_model_dir(tmp_path_factory, lending_split) -> Path:
    """A deliberately weaker model than conftest's `model_dir` (stumps, few trees)."""
    return train_artifact(tmp_path_factory.mktemp("weak"), lending_split, n_estimators=4, stage_size=2, max_depth=1)


@pytest.fixture(scope="session")
def old_library_model_dir(tmp_path_factory, weak_model_dir) -> Path:
    """An artifact this image refuses to load: trained (it says) with another scikit-learn."""
    directory = tmp_path_factory.mktemp("old-sklearn")
    shutil.copytree(weak_model_dir, directory, dirs_exist_ok=True)
    meta_path = directory / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    return directory


@pytest.fixture(scope="session")
def test_rows(lending_split):
    return lending_split[3]
