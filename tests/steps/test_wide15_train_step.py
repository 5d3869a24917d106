"""train.py's checkpoints (issue 15): saved at stage boundaries by train.CHECKPOINT_SECONDS, not after every stage."""

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
