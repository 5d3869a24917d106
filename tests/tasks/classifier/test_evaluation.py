import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from tasks.classifier.evaluation import binary_classification_report

KEYS = [
    "confusion_matrix", "recall", "precision", "accuracy", "recall_best_constant_classifier",
    "precision_best_constant_classifier", "accuracy_best_constant_classifier", "true_positive_rate",
    "true_negative_rate", "false_positive_rate", "false_negative_rate", "auc", "f0_5", "f1", "f2",
    "f0_5_best_constant_classifier", "f1_best_constant_classifier", "f2_best_constant_classifier",
    "receiver_operating_characteristic_curve", "precision_recall_curve",
]


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    proba = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1)
    return y, proba


def test_model_monitor_keys_and_values_match_sklearn(scored):
    y, proba = scored
    report = binary_classification_report(y, proba, threshold=0.5, labels=("good", "bad"))
    metrics = report["binary_classification_metrics"]
    assert set(KEYS) == set(metrics)
    pred = proba >= 0.5
    assert metrics["auc"]["value"] == pytest.approx(roc_auc_score(y, proba))
    assert metrics["precision"]["value"] == pytest.approx(precision_score(y, pred))
    assert metrics["recall"]["value"] == pytest.approx(recall_score(y, pred))
    assert metrics["f1"]["value"] == pytest.approx(f1_score(y, pred))
    assert metrics["false_positive_rate"]["value"] == pytest.approx(np.mean(pred[y == 0]))
    cm = metrics["confusion_matrix"]
    assert cm["bad"]["bad"] == int(np.sum(pred & (y == 1))) and cm["good"]["bad"] == int(np.sum(pred & (y == 0)))
    assert sum(v for row in cm.values() for v in row.values()) == 500
    assert report["dataset"]["item_count"] == 500 and report["version"] == 0.0
    roc = metrics["receiver_operating_characteristic_curve"]
    assert roc["false_positive_rates"][0] == 0.0 and roc["true_positive_rates"][-1] == 1.0
    json.dumps(report, allow_nan=False)  # strict JSON: "NaN" only as a string


def test_deviation_is_a_number_from_200_rows_and_nan_below(scored):
    y, proba = scored
    big = binary_classification_report(y, proba, 0.5)["binary_classification_metrics"]
    assert 0 < big["auc"]["standard_deviation"] < 0.05
    small = binary_classification_report(y[:199], proba[:199], 0.5)["binary_classification_metrics"]
    assert small["auc"]["standard_deviation"] == "NaN" and small["auc"]["value"] > 0.5


def test_deviation_is_seeded(scored):
    y, proba = scored
    a = binary_classification_report(y, proba, 0.5, seed=1)["binary_classification_metrics"]["auc"]
    b = binary_classification_report(y, proba, 0.5, seed=1)["binary_classification_metrics"]["auc"]
    c = binary_classification_report(y, proba, 0.5, seed=2)["binary_classification_metrics"]["auc"]
    assert a == b and a["standard_deviation"] != c["standard_deviation"]


@pytest.mark.parametrize("rows", [10, 300])  # below and above the 200 rows that give deviations
def test_single_class_test_set_reports_nan_auc_as_a_string(rows):
    report = binary_classification_report(np.zeros(rows, int), np.linspace(0, 1, rows), 0.5)
    auc = report["binary_classification_metrics"]["auc"]
    assert auc == {"value": "NaN", "standard_deviation": "NaN"}
    json.dumps(report, allow_nan=False)
