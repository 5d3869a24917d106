"""train.py killed with SIGKILL at random moments (a lost spot instance), then rerun on the same tree.

After every kill: each checkpoint on disk loads, the model directory holds either nothing or a
whole artifact. The rerun resumes from the newest checkpoint, and the job that finally completes
ends with the same model bytes as an uninterrupted run.
"""

import os
import random
import signal
import time

import joblib
import psutil
import pytest

from localrun.jobs import lay_out
from tests.steps.conftest import job
from tasks.classifier import artifact

pytestmark = pytest.mark.hardening
PARAMS = {"n_estimators": 150, "stage_size": 5, "early_stopping_stages": 0, "subsample": 0.8}
KILLS = int(os.environ.get("KILL_ROUNDS", "4"))


def train_step(prepared):
    return job("train", {name: prepared[name] for name in ("train", "validation", "preprocessor")}, PARAMS)


def kill_job(process, tree) -> None:
    """SIGKILL the launcher, the toolkit and the script, as a lost instance would (they run in two sessions)."""
    found = [p for p in psutil.process_iter() if _in_tree(p, tree)]
    for proc in found:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    process.kill()
    process.wait()
    psutil.wait_procs(found, timeout=10)


def _in_tree(proc, tree) -> bool:
    try:
        return proc.environ().get("SAGEMAKER_BASE_DIR") == str(tree)
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def assert_nothing_half_written(tree) -> list[int]:
    stages = []
    for path in sorted((tree / "checkpoints").glob("checkpoint-*.joblib")):
        saved = joblib.load(path)  # a checkpoint the rerun may read is whole
        stages.append(saved["step"])
    model = tree / "model"
    if (model / artifact.METADATA_FILE).exists():
        artifact.load(model)  # metadata.json is written last: when it is there, the artifact is whole
    return stages


def test_sigkill_at_random_moments_then_rerun(tmp_path, engine, prepared, capfd):
    step = train_step(prepared)
    fresh_tree = lay_out(step, tmp_path / "fresh", "algo-1", engine.code_dir)
    began = time.monotonic()
    assert engine.run(step, fresh_tree, "algo-1") == 0
    duration = time.monotonic() - began
    fresh = artifact.load(fresh_tree / "model")
    capfd.readouterr()

    rng = random.Random(int(os.environ.get("KILL_SEED", "11")))
    tree = lay_out(step, tmp_path / "spot", "algo-1", engine.code_dir)
    resumed_from = []
    for round_ in range(KILLS):
        before = assert_nothing_half_written(tree)
        process = engine.start(step, tree)
        time.sleep(rng.uniform(0.2, duration * 0.8))
        kill_job(process, tree)
        resumed_from.append(max(before, default=0))
    last = assert_nothing_half_written(tree)
    capfd.readouterr()
    (tree / "output" / "failure").unlink(missing_ok=True)
    assert engine.run(step, tree, "algo-1") == 0
    if last:
        assert f"resuming from checkpoint at stage {max(last)}" in capfd.readouterr().out
    final = artifact.load(tree / "model")
    assert final.metadata["history"] == fresh.metadata["history"]
    assert final.metadata["model_sha256"] == fresh.metadata["model_sha256"]
    leftovers = [p.name for d in ("model", "checkpoints") for p in (tree / d).iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers
    print(f"starts from stages {resumed_from}, then {max(last, default=0)}")
