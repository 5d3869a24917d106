"""The images as SDK users run them: Estimator, Processor and Model.deploy with instance_type="local".

Each result is compared with the project's own runner (localrun, every step as a process) on the
same lending_club data and seed: the same model predictions, the same evaluation numbers, the same
answers from the endpoint. Inputs and outputs are file:// paths (local mode copies them in and out as
it would S3 objects); the SDK's hyperparameters are plain strings, as its generic Estimator passes them.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.classifier import artifact

pytestmark = pytest.mark.conformance

CHANNELS = ("train", "validation", "preprocessor")


def runner_hyperparameters(run_dir: Path) -> dict[str, str]:
    """What the runner gave train.py (JSON-encoded, as the platform does), as the SDK's Estimator passes them: str(value)."""
    encoded = json.loads((run_dir / "jobs" / "train" / "algo-1" / "input" / "config" / "hyperparameters.json").read_text())
    decoded = {k: json.loads(v) for k, v in encoded.items() if not k.startswith("sagemaker_")}
    return {k: str(v) for k, v in decoded.items() if v is not None}


def unpack(model_tar: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(model_tar) as tar:
        tar.extractall(directory, filter="data")
    return directory


def comparable(evaluation: dict) -> dict:
    """evaluation.json without the time it was written."""
    return {**evaluation, "dataset": {k: v for k, v in evaluation["dataset"].items() if k != "evaluation_time"}}


def local_path(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(uri[len("file://"):])


def test_estimator_trains_the_runners_model(sdk, train_image, runner_run, tmp_path):
    features = runner_run / "s3" / "feature"
    result, log = sdk({
        "kind": "train", "image": train_image, "channels": {c: str(features / c) for c in CHANNELS},
        "hyperparameters": runner_hyperparameters(runner_run), "output_dir": str(tmp_path / "out"),
    })
    ours = artifact.load(unpack(local_path(result["model_data"]), tmp_path / "sdk-model"))
    theirs = artifact.load(unpack(runner_run / "s3" / "train" / "model" / "model.tar.gz", tmp_path / "runner-model"))
    test = pd.read_parquet(features / "test" / "test.parquet")
    assert np.array_equal(ours.predict_proba(test), theirs.predict_proba(test))


def test_processor_runs_evaluation_as_the_runner_does(sdk, process_image, runner_run, tmp_path):
    config = json.loads((runner_run / "jobs" / "evaluation" / "algo-1" / "config" / "processingjobconfig.json").read_text())
    app = config["AppSpecification"]
    result, log = sdk({
        "kind": "process", "image": process_image, "entrypoint": app["ContainerEntrypoint"],
        "arguments": app.get("ContainerArguments", []),
        "inputs": {"model": str(runner_run / "s3" / "train" / "model"), "test": str(runner_run / "s3" / "feature" / "test")},
        "outputs": ["evaluation"], "output_dir": str(tmp_path / "out"),
    })
    ours = json.loads((tmp_path / "out" / "evaluation" / "evaluation.json").read_text())
    theirs = json.loads((runner_run / "s3" / "evaluation" / "evaluation" / "evaluation.json").read_text())
    assert comparable(ours) == comparable(theirs)


def test_model_deploy_serves_the_runners_predictions(sdk, train_image, runner_run, tmp_path):
    model_tar = runner_run / "s3" / "train" / "model" / "model.tar.gz"
    model = artifact.load(unpack(model_tar, tmp_path / "model"))
    schema = json.loads((tmp_path / "model" / "metadata.json").read_text())["schema"]
    test = pd.read_parquet(runner_run / "s3" / "feature" / "test" / "test.parquet").head(20)
    rows = test[schema["numeric"] + schema["categorical"]]
    (tmp_path / "rows.csv").write_text(rows.to_csv(index=False))
    result, log = sdk({"kind": "serve", "image": train_image, "model_tar": str(model_tar), "csv": str(tmp_path / "rows.csv")})
    served = [p["probability"] for p in result["answer"]["predictions"]]
    assert np.allclose(served, model.predict_proba(test), rtol=0, atol=1e-12)


def test_two_instance_training_waits_for_the_leader(sdk, train_image, runner_run, tmp_path):
    """The worker host has no work (gradient boosting trains on the leader) and would exit at once;
    local mode's docker-compose --abort-on-container-exit would then stop the leader and report
    success with an empty model. The contract's job-end barrier keeps the worker until the leader is done."""
    features = runner_run / "s3" / "feature"
    result, log = sdk({
        "kind": "train", "image": train_image, "channels": {c: str(features / c) for c in CHANNELS},
        "hyperparameters": runner_hyperparameters(runner_run), "output_dir": str(tmp_path / "out"), "instance_count": 2,
    })
    assert "Aborting on container exit" in log  # the harness that stops on the first exit
    model_dir = unpack(local_path(result["model_data"]), tmp_path / "sdk-model")
    assert (model_dir / "model.joblib").is_file(), f"empty model from a two-instance job:\n{log[-3000:]}"
    ours = artifact.load(model_dir)
    theirs = artifact.load(unpack(runner_run / "s3" / "train" / "model" / "model.tar.gz", tmp_path / "runner-model"))
    test = pd.read_parquet(features / "test" / "test.parquet")
    assert np.array_equal(ours.predict_proba(test), theirs.predict_proba(test))


def test_without_the_barrier_local_mode_reports_success_with_an_empty_model(sdk, train_image, runner_run, tmp_path):
    """The negative control of the test above: with the barrier switched off the worker leaves at
    once, docker-compose stops the leader mid-training, and the SDK still reports success."""
    features = runner_run / "s3" / "feature"
    result, log = sdk({
        "kind": "train", "image": train_image, "channels": {c: str(features / c) for c in CHANNELS},
        "hyperparameters": runner_hyperparameters(runner_run), "output_dir": str(tmp_path / "out"), "instance_count": 2,
        "environment": {"SM_HOST_BARRIER": "off"},
    })
    model_dir = unpack(local_path(result["model_data"]), tmp_path / "sdk-model")
    assert not (model_dir / "model.joblib").exists(), "the leader finished before the worker's exit stopped it"


def test_two_instance_processing_with_a_host_without_data(sdk, process_image, runner_run, tmp_path):
    """clean.py on two hosts, one input file and the roles step's roles.json (both hosts get it): the
    second host has no share and would exit first. Every host's output lands, the rows equal the runner's, and so do the file names: local mode's
    hosts are algo-<n>-<random>, which the contract reads as the platform's algo-<n>."""
    config = json.loads((runner_run / "jobs" / "clean" / "algo-1" / "config" / "processingjobconfig.json").read_text())
    app = config["AppSpecification"]
    result, log = sdk({
        "kind": "process", "image": process_image, "entrypoint": app["ContainerEntrypoint"],
        "arguments": app.get("ContainerArguments", []),
        "inputs": {"raw": str(runner_run / "s3" / "input" / "InputData"), "roles": str(runner_run / "s3" / "roles" / "roles")},
        "outputs": ["cleaned"], "output_dir": str(tmp_path / "out"), "instance_count": 2,
    })
    assert "no input files for" in log  # one host had no share
    [ours] = sorted((tmp_path / "out" / "cleaned").glob("cleaned-*.parquet"))
    [theirs] = sorted((runner_run / "s3" / "clean" / "cleaned").glob("cleaned-*.parquet"))
    assert ours.name == theirs.name == "cleaned-algo-1.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs))
