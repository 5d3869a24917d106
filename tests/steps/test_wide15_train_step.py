"""train.py's checkpoints (issue 15): saved at stage boundaries by train.CHECKPOINT_SECONDS, not after every stage."""

import signal
import time

from localrun.jobs import lay_out
from tasks.classifier import artifact
from tests.steps.conftest import job

PARAMS = {"n_estimators": 60, "stage_size": 5, "early_stopping_stages": 0}


def test_the_last_stage_is_saved_and_a_restart_after_it_ships_the_same_model(tmp_path, engine, prepared, capfd):
    step = job("train", {name: prepared[name] for name in ("train", "validation", "preprocessor")}, PARAMS)
    tree = lay_out(step, tmp_path / "job", "algo-1", engine.code_dir)
    assert engine.run(step, tree, "algo-1") == 0
    first = artifact.load(tree / "model")
    stages = sorted(int(p.stem.split("-")[1]) for p in (tree / "checkpoints").glob("checkpoint-*.joblib"))
    assert stages[-1] == len(first.metadata["history"]) == 12  # the finished state, whatever was saved before
    capfd.readouterr()

    # the instance is lost after training, before SageMaker uploaded the model: the restart trains nothing again
    for path in (tree / "model").iterdir():
        path.unlink()
    assert engine.run(step, tree, "algo-1") == 0
    assert "resuming from checkpoint at stage 12" in capfd.readouterr().out
    again = artifact.load(tree / "model")
    assert again.metadata["history"] == first.metadata["history"]
    assert again.metadata["model_sha256"] == first.metadata["model_sha256"]


def test_an_hgb_job_stopped_by_sigterm_resumes_in_a_new_process_to_the_same_bytes(tmp_path, engine, prepared):
    """The hgb family across processes: a checkpoint's arrays and seed sequence come back as new objects."""
    params = {"n_estimators": 120, "stage_size": 5, "early_stopping_stages": 0, "estimator": "hgb"}
    step = job("train", {name: prepared[name] for name in ("train", "validation", "preprocessor")}, params)
    tree = lay_out(step, tmp_path / "spot", "algo-1", engine.code_dir)
    process = engine.start(step, tree)
    deadline = time.monotonic() + 120
    while not list((tree / "checkpoints").glob("checkpoint-*.joblib")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=180) == 1
    assert (tree / "output" / "failure").read_text().startswith("stopped by SIGTERM after stage")
    (tree / "output" / "failure").unlink()
    assert engine.run(step, tree, "algo-1") == 0
    resumed = artifact.load(tree / "model")

    fresh_tree = lay_out(step, tmp_path / "fresh", "algo-1", engine.code_dir)
    assert engine.run(step, fresh_tree, "algo-1") == 0
    fresh = artifact.load(fresh_tree / "model")
    assert resumed.metadata["estimator"] == "StagedHistGradientBoostingClassifier"
    assert resumed.metadata["history"] == fresh.metadata["history"]
    assert resumed.metadata["model_sha256"] == fresh.metadata["model_sha256"]
