"""Model quality in SageMaker Model Monitor's format, so pipelines can gate on it.

A ConditionStep reads `binary_classification_metrics.auc.value` with JsonGet. Each scalar
is `{value, standard_deviation}`; the deviation is Model Monitor's: the metric on five
random 80% samples, and the string "NaN" below 200 rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

MIN_ROWS_FOR_DEVIATION = 200
DEVIATION_SAMPLES = 5
DEVIATION_FRACTION = 0.8
MAX_CURVE_POINTS = 1000


def _safe_div(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def _f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return _safe_div((1 + b2) * precision * recall, b2 * precision + recall)


def _scalars(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    pred = proba >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    tn = float(np.sum(~pred & (y == 0)))
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    # the best constant classifier predicts the positive class for every row
    base_rate = _safe_div(tp + fn, len(y))
    values = {
        "recall": recall,
        "precision": precision,
        "accuracy": _safe_div(tp + tn, len(y)),
        "recall_best_constant_classifier": 1.0 if tp + fn else 0.0,
        "precision_best_constant_classifier": base_rate,
        "accuracy_best_constant_classifier": max(base_rate, 1 - base_rate),
        "true_positive_rate": recall,
        "true_negative_rate": _safe_div(tn, tn + fp),
        "false_positive_rate": _safe_div(fp, fp + tn),
        "false_negative_rate": _safe_div(fn, fn + tp),
        "auc": float(roc_auc_score(y, proba)) if 0 < y.sum() < len(y) else float("nan"),
    }
    for beta, name in ((0.5, "f0_5"), (1.0, "f1"), (2.0, "f2")):
        values[name] = _f_beta(precision, recall, beta)
        values[f"{name}_best_constant_classifier"] = _f_beta(base_rate, 1.0 if tp + fn else 0.0, beta)
    return values


def _deviations(y, proba, threshold, seed: int) -> dict[str, Any]:
    compute: Callable = lambda idx: _scalars(y[idx], proba[idx], threshold)  # noqa: E731
    if len(y) < MIN_ROWS_FOR_DEVIATION:
        return {name: "NaN" for name in compute(np.arange(len(y)))}
    rng = np.random.default_rng(seed)
    size = int(DEVIATION_FRACTION * len(y))
    samples = [compute(rng.choice(len(y), size=size, replace=False)) for _ in range(DEVIATION_SAMPLES)]
    deviations = {}
    for name in samples[0]:
        values = np.array([s[name] for s in samples], dtype=float)
        deviations[name] = _number(float(np.nanstd(values))) if np.isfinite(values).any() else "NaN"
    return deviations


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """At most MAX_CURVE_POINTS evenly spaced points, keeping both ends."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(int))
    return [np.asarray(a)[keep].round(6).tolist() for a in arrays]


def _number(value: float) -> Any:
    return "NaN" if np.isnan(value) else value


def binary_classification_report(
    y_true, proba, threshold: float, labels: tuple[str, str] = ("0", "1"), seed: int = 0
) -> dict[str, Any]:
    """The Model Monitor model-quality statistics for 0/1 truth and positive-class probabilities.

    `labels` are the (negative, positive) names used as confusion-matrix keys.
    """
    y = np.asarray(y_true).astype(int)
    proba = np.asarray(proba, dtype=float)
    values = _scalars(y, proba, threshold)
    deviations = _deviations(y, proba, threshold, seed)
    pred = (proba >= threshold).astype(int)
    negative, positive = labels
    names = {0: negative, 1: positive}
    metrics: dict[str, Any] = {
        "confusion_matrix": {
            names[a]: {names[p]: int(np.sum((y == a) & (pred == p))) for p in (0, 1)} for a in (0, 1)
        }
    }
    for name, value in values.items():
        metrics[name] = {"value": _number(value), "standard_deviation": deviations[name]}
    if 0 < y.sum() < len(y):
        fpr, tpr, _ = roc_curve(y, proba)
        precisions, recalls, _ = precision_recall_curve(y, proba)
        fpr, tpr = _thin(fpr, tpr)
        precisions, recalls = _thin(precisions, recalls)
        metrics["receiver_operating_characteristic_curve"] = {"false_positive_rates": fpr, "true_positive_rates": tpr}
        metrics["precision_recall_curve"] = {"precisions": precisions, "recalls": recalls}
    return {
        "version": 0.0,
        "dataset": {"item_count": int(len(y)), "evaluation_time": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "threshold": threshold,
        "binary_classification_metrics": metrics,
    }


def permutation_importances(
    predict_proba: Callable[[Any], np.ndarray], rows, y: np.ndarray, features, seed: int = 0, repeats: int = 3,
) -> dict[str, float]:
    """Mean drop in test AUC when one raw column's values are shuffled: what the model leans on, in the
    columns a person knows (not the one-hot columns the preprocessor makes). 0 when AUC is undefined."""
    y = np.asarray(y).astype(int)
    if len(np.unique(y)) < 2:
        return {name: 0.0 for name in features}
    rng = np.random.default_rng(seed)
    base = roc_auc_score(y, predict_proba(rows))
    drops = {}
    for name in features:
        shuffled = rows.copy()
        scores = []
        for _ in range(repeats):
            shuffled[name] = rows[name].to_numpy()[rng.permutation(len(rows))]
            scores.append(base - roc_auc_score(y, predict_proba(shuffled)))
        drops[name] = float(np.mean(scores))
    return drops
