"""A 3-class file and a regression file through the real step scripts (clean, feature, train as the
training toolkit runs it, evaluation), as SageMaker runs them: a process per host, its own /opt/ml tree."""

import json

import pytest

from localrun.jobs import Job
from localrun.runner import LocalSession, StepFailed
from pipeline.spec import CLASSIFIER, REGRESSION
from tasks.classifier import artifact
from tests.tasks.classifier.tasks15_models import diabetes, wine

HP = {"n_estimators": 30, "stage_size": 10}


def run_steps(tmp_path, engine, pipeline, frame, clean_args):
    session = LocalSession(tmp_path, engine)
    raw = tmp_path / "s3" / "raw"
    raw.mkdir(parents=True)
    frame.to_csv(raw / "data.csv", index=False)
    clean = session.run(Job(pipeline.step("clean"), {"raw": raw}, clean_args))
    feature = session.run(Job(pipeline.step("feature"), {"cleaned": clean.outputs["cleaned"]}))
    train = session.run(Job(pipeline.step("train"), {k: feature.outputs[k] for k in ("train", "validation", "preprocessor")}, HP))
    evaluation = session.run(Job(pipeline.step("evaluation"), {"model": train.outputs["model"], "test": feature.outputs["test"]}))
    report = json.loads((evaluation.outputs["evaluation"] / "evaluation.json").read_text())
    return clean, train, report, evaluation


def test_a_three_class_file_runs_through_every_step(tmp_path, engine, capfd):
    clean, train, report, evaluation = run_steps(tmp_path, engine, CLASSIFIER, wine(), {"target": "cultivar"})
    schema = json.loads(next(clean.outputs["cleaned"].glob("schema-*.json")).read_text())
    assert schema["kind"] == "multiclass" and schema["class_counts"] == {"class_0": 59, "class_1": 71, "class_2": 48}
    model = artifact.load(train.trees["algo-1"] / "model")
    assert model.schema.labels == ("class_0", "class_1", "class_2") and model.metadata["params"]["trees"] == 30
    assert "multiclass_classification_metrics" in report and report["gate"]["metric"] == "ovr_macro_auc"
    assert report["gate"]["value"] > 0.9
    page = (evaluation.outputs["evaluation"] / "evaluation_report.html").read_text()
    assert "Confusion matrix" in page and "class_2" in page
    out = capfd.readouterr().out
    assert "METRIC validation:auc=" in out and "target 'cultivar': multiclass" in out


def test_a_regression_file_runs_through_every_step(tmp_path, engine, capfd):
    clean, train, report, evaluation = run_steps(tmp_path, engine, REGRESSION, diabetes(),
                                                     {"target": "progression", **REGRESSION.step("clean").fixed})
    model = artifact.load(train.trees["algo-1"] / "model")
    assert model.schema.kind == "regression" and model.metadata["task"] == "regression"
    assert set(report["regression_metrics"]) == {"mae", "mse", "rmse", "r2"}
    assert report["gate"]["metric"] == "skill_vs_train_mean" and report["gate"]["value"] > 0.1
    assert report["train_mean_baseline"]["train_mean"] == pytest.approx(model.metadata["target_mean"])
    assert "Residuals" in (evaluation.outputs["evaluation"] / "evaluation_report.html").read_text()
    assert "METRIC validation:rmse=" in capfd.readouterr().out


def test_a_numeric_target_named_a_classifier_fails_with_the_regression_hint(tmp_path, engine):
    with pytest.raises(StepFailed) as failure:
        run_steps(tmp_path, engine, CLASSIFIER, diabetes(), {"target": "progression"})
    assert "use TASK=regression" in failure.value.reason and failure.value.code == 2
