"""train.py through the real sagemaker-training toolkit, as `train` runs it in the image."""

import json
import signal
import time

import numpy as np
import pytest

from tasks.classifier import artifact
from localrun.jobs import Job, lay_out
from localrun.runner import LocalSession, StepFailed
from tests.steps.conftest import job

FAST = {"n_estimators": 40, "stage_size": 20}


def train_step(prepared, **hyperparameters):
    return job("train", {name: prepared[name] for name in ("train", "validation", "preprocessor")}, hyperparameters)


def test_toolkit_runs_train_and_the_model_describes_itself(tmp_path, engine, prepared, capfd):
    result = LocalSession(tmp_path, engine).run(train_step(prepared, **FAST))
    out = capfd.readouterr().out
    assert "METRIC validation:auc=" in out and "METRIC final:validation:logloss=" in out
    model_dir = result.trees["algo-1"] / "model"
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["params"]["n_estimators"] == 40 and meta["params"]["trees"] == 40
    assert meta["data"]["train_rows"] == 6899 and len(meta["data"]["train_sha256"]) == 64
    assert [h["trees"] for h in meta["history"]] == [20, 40]
    assert artifact.load(model_dir).predict_proba(artifact.load(model_dir).sample_rows()).shape == (3,)
    assert (tmp_path / "s3" / "train" / "model" / "model.tar.gz").is_file()


def test_a_bad_hyperparameter_is_the_failure_reason(tmp_path, engine, prepared):
    with pytest.raises(StepFailed) as failure:
        LocalSession(tmp_path, engine).run(train_step(prepared, n_estimators="lots"))
    assert failure.value.reason == "hyperparameter 'n_estimators': expected integer, got 'lots'"
    assert failure.value.code == 1  # the toolkit reports any script failure as exit 1


def test_a_missing_channel_is_named(tmp_path, engine, prepared):
    step = train_step(prepared)
    step = Job(step.step, {k: v for k, v in step.inputs.items() if k != "validation"})
    with pytest.raises(StepFailed) as failure:
        LocalSession(tmp_path, engine).run(step)
    assert "training channel 'validation' was not provided" in failure.value.reason


def test_sigterm_checkpoints_and_a_restart_resumes_to_the_same_model(tmp_path, engine, prepared, lending_split):
    params = {"n_estimators": 200, "stage_size": 5, "early_stopping_stages": 0}
    step = train_step(prepared, **params)

    # the interrupted job: SIGTERM as soon as the first checkpoint lands
    tree = lay_out(step, tmp_path / "spot", "algo-1", engine.code_dir)
    process = engine.start(step, tree)
    deadline = time.monotonic() + 60
    while not list((tree / "checkpoints").glob("checkpoint-*.joblib")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    # it stops at the next stage boundary (seconds when idle); the bound only catches a hang
    assert process.wait(timeout=180) == 1  # the script exits 143; the toolkit reports 1
    reason = (tree / "output" / "failure").read_text()
    assert reason.startswith("stopped by SIGTERM after stage") and "resumes it" in reason
    assert not (tree / "model" / "model.joblib").exists()
    stage = int(reason.split("after stage ")[1].split()[0])
    assert 1 <= stage < 40

    # the restarted job: same tree, checkpoints restored as SageMaker restores them
    (tree / "output" / "failure").unlink()
    assert engine.run(step, tree, "algo-1") == 0
    resumed = artifact.load(tree / "model")
    assert resumed.metadata["history"][0]["trees"] == 5 and resumed.metadata["params"]["trees"] == 200

    # an uninterrupted job with the same seed
    fresh_tree = lay_out(step, tmp_path / "fresh", "algo-1", engine.code_dir)
    assert engine.run(step, fresh_tree, "algo-1") == 0
    fresh = artifact.load(fresh_tree / "model")

    test = lending_split[3]
    assert np.array_equal(resumed.predict_proba(test), fresh.predict_proba(test))
    assert resumed.metadata["history"] == fresh.metadata["history"]
    # the same bytes, not only the same predictions: registry and lineage key models by SHA-256
    assert resumed.metadata["model_sha256"] == fresh.metadata["model_sha256"]


def test_a_checkpoint_from_another_run_is_refused(tmp_path, engine, prepared):
    first = train_step(prepared, **FAST)
    tree = lay_out(first, tmp_path / "job", "algo-1", engine.code_dir)
    assert engine.run(first, tree, "algo-1") == 0
    other = train_step(prepared, n_estimators=40, stage_size=20, learning_rate=0.2)
    tree = lay_out(other, tmp_path / "job", "algo-1", engine.code_dir)
    assert engine.run(other, tree, "algo-1") == 1
    assert "belongs to a run with other data or parameters" in (tree / "output" / "failure").read_text()
