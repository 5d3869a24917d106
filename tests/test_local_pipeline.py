"""The whole local pipeline, as `make run` runs it, on the default data and on another schema."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "tests" / "data" / "penguins.csv"


def run_pipeline(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localrun", "--work-dir", str(work), *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )


def summary_of(work: Path) -> dict:
    return json.loads((work / "latest" / "summary.json").read_text())


@pytest.mark.slow
def test_default_dataset_end_to_end(tmp_path):
    result = run_pipeline(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = summary_of(tmp_path)
    assert 0.68 < summary["test_auc"] < 0.85  # lending_club is hard: ~0.74 is the honest figure
    assert f"TEST AUC {summary['test_auc']:.4f}" in result.stdout
    for name, path in summary["outputs"].items():
        assert Path(path).exists(), name
        assert path in result.stdout
    evaluation = json.loads(Path(summary["outputs"]["evaluation"]).read_text())
    assert evaluation["binary_classification_metrics"]["auc"]["value"] == summary["test_auc"]
    # the run ends by scoring raw test rows through a local endpoint serving model.tar.gz
    predictions = summary["endpoint_predictions"]
    assert len(predictions) == 5
    for prediction in predictions:
        assert 0 < prediction["probability"] < 1
        assert prediction["label"] == ("bad" if prediction["probability"] >= summary["threshold"] else "good")


@pytest.mark.slow
def test_another_schema_runs_by_changing_only_target_and_label(tmp_path):
    # penguins: target 'sex' (female/male), categorical species and island, NA values, rows without a target
    result = run_pipeline(tmp_path, "--data", str(PENGUINS), "--target", "sex", "--positive-label", "female")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = summary_of(tmp_path)
    assert summary["test_auc"] > 0.8  # sex is well predicted by body measurements
    cleaned = Path(summary["outputs"]["cleaned"])
    report = json.loads((cleaned / "report-algo-1.json").read_text())
    assert report["dropped"]["missing_target"] == 11
    schema = json.loads((cleaned / "schema-algo-1.json").read_text())
    assert schema["categorical"] == ["species", "island"] and schema["negative_label"] == "male"


def test_a_failing_step_stops_the_pipeline_and_says_why(tmp_path):
    result = run_pipeline(tmp_path, "--data", str(PENGUINS), "--target", "gender", "--positive-label", "f")
    assert result.returncode == 1
    assert "PIPELINE FAILED: step 'clean' on algo-1 failed with exit code 2: target column 'gender' not found" in result.stderr
    assert not (tmp_path / "latest" / "summary.json").exists()
