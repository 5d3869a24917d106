"""Multi-class and regression through the training core, the artifact and evaluation, on real data."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_absolute_error, precision_score, r2_score, recall_score

from tasks.classifier import artifact, features, modeling, target
from tasks.classifier.evaluation import evaluate, gate_metric
from tasks.classifier.training import HGB_FROM_CELLS, HGB_FROM_ROWS, TrainParams, choose_estimator
from tests.tasks.classifier.tasks15_models import diabetes, fit_resumed, split, trained, wine


@pytest.fixture(scope="module")
def wine_model(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("wine"), wine(), "cultivar")


@pytest.fixture(scope="module")
def diabetes_model(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("diabetes"), diabetes(), "progression", task="regression")


def test_multiclass_model_scores_class_probabilities_and_labels(wine_model):
    model_dir, sch, test = wine_model
    model = artifact.load(model_dir)
    proba = model.predict(test)
    assert proba.shape == (len(test), 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.label(proba)) <= set(sch.labels)
    assert model.threshold is None and model.metadata["outputs"]["csv_columns"] == [
        "label", "probability_class_0", "probability_class_1", "probability_class_2"]
    model.self_test()


def test_multiclass_evaluation_is_model_monitors_format_with_ovr_auc_gate(wine_model):
    model_dir, sch, test = wine_model
    model = artifact.load(model_dir)
    report, y, proba = evaluate(model, test, seed=0)
    section = report["multiclass_classification_metrics"]
    pred = np.argmax(proba, axis=1)
    assert section["weighted_f1"]["value"] == pytest.approx(f1_score(y, pred, average="weighted"))
    assert section["weighted_precision"]["value"] == pytest.approx(precision_score(y, pred, average="weighted"))
    assert section["weighted_recall"]["value"] == pytest.approx(recall_score(y, pred, average="weighted"))
    assert section["accuracy"]["standard_deviation"] == "NaN"  # fewer than 200 rows, as Model Monitor
    matrix = section["confusion_matrix"]
    assert set(matrix) == set(sch.labels) and sum(sum(r.values()) for r in matrix.values()) == len(test)
    assert set(section["per_class"]) == set(sch.labels)
    assert report["gate"]["metric"] == "ovr_macro_auc" and report["gate"]["value"] == section["auc"]["value"] > 0.9
    assert section["log_loss"]["value"] > 0


def test_regression_model_and_evaluation_beside_the_training_mean(diabetes_model):
    model_dir, sch, test = diabetes_model
    model = artifact.load(model_dir)
    report, y, predicted = evaluate(model, test, seed=0)
    metrics, baseline = report["regression_metrics"], report["train_mean_baseline"]
    assert metrics["mae"]["value"] == pytest.approx(mean_absolute_error(y, predicted))
    assert metrics["r2"]["value"] == pytest.approx(r2_score(y, predicted))
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(metrics["mse"]["value"]))
    assert baseline["train_mean"] == model.metadata["target_mean"]
    gate = report["gate"]
    assert gate["metric"] == "skill_vs_train_mean"
    assert gate["value"] == pytest.approx(1 - metrics["rmse"]["value"] / baseline["rmse"]["value"])
    assert gate["value"] > 0.1  # the default floor: clearly better than predicting the mean
    assert gate_metric(model)[1](y, predicted) == pytest.approx(gate["value"])


def test_the_family_follows_rows_and_columns():
    auto = TrainParams()
    assert choose_estimator(auto, 6_900, 25) == "gb"  # the default data
    assert choose_estimator(auto, 14_000, 300) == "hgb"  # the wide file
    assert choose_estimator(auto, HGB_FROM_CELLS // 10, 10) == "hgb"
    assert choose_estimator(auto, HGB_FROM_ROWS, 1) == "hgb"
    assert choose_estimator(TrainParams(estimator="gb"), 14_000, 300) == "gb"


@pytest.mark.parametrize("family", ["gb", "hgb"])
@pytest.mark.parametrize("data", ["wine", "diabetes"])
def test_every_family_resumes_to_the_same_predictions_for_every_kind(family, data):
    frame, name, task = (wine(), "cultivar", "classifier") if data == "wine" else (diabetes(), "progression", "regression")
    sch, train, validation, _ = split(frame, name, task)
    pre = features.fit_preprocessor(train, sch)
    params = TrainParams(n_estimators=30, stage_size=5, early_stopping_stages=0, estimator=family)
    fresh = modeling.fit(train, validation, sch, pre, params)
    resumed = fit_resumed(train, validation, sch, pre, params)
    X = validation[list(sch.features)]
    kind = target.kind_of(sch)
    assert np.array_equal(kind.scores(resumed.pipeline, X), kind.scores(fresh.pipeline, X))
    assert resumed.state.history == fresh.state.history and fresh.state.trees == 30
