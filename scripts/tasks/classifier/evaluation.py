"""Model quality in SageMaker Model Monitor's format, so pipelines can gate on it.

One section per kind of target, named as Model Monitor names them: `binary_classification_metrics`,
`multiclass_classification_metrics` (accuracy, weighted precision/recall/F-scores, each beside the
best constant classifier's, and the confusion matrix; plus one-vs-rest macro AUC, log-loss and
per-class figures, which Model Monitor does not compute) and `regression_metrics` (mae, mse, rmse,
r2; plus the same four for predicting the training mean). Each scalar is `{value,
standard_deviation}`; the deviation is Model Monitor's: the metric on five random 80% samples, and
the string "NaN" below 200 rows. `evaluate` adds the task-neutral gate section the ConditionStep
reads (`gate.value`): AUC (binary), one-vs-rest macro AUC (multi-class: threshold-free like the
binary AUC, so the same floor means the same thing), skill against the training mean (regression:
1 - RMSE / RMSE of predicting the training mean).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

MIN_ROWS_FOR_DEVIATION = 200
DEVIATION_SAMPLES = 5
DEVIATION_FRACTION = 0.8
MAX_CURVE_POINTS = 1000


PERMUTATION_BUDGET = 400_000  # rows scored for permutation importances, all columns and repeats together
PERMUTATION_MIN_ROWS = 500

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
    return _sample_deviations(lambda idx: _scalars(y[idx], proba[idx], threshold), len(y), seed)


def _sample_deviations(compute: Callable[[np.ndarray], dict[str, float]], rows: int, seed: int) -> dict[str, Any]:
    """Model Monitor's standard deviation of each metric: over five random 80% samples of the rows."""
    if rows < MIN_ROWS_FOR_DEVIATION:
        return {name: "NaN" for name in compute(np.arange(rows))}
    rng = np.random.default_rng(seed)
    size = int(DEVIATION_FRACTION * rows)
    samples = [compute(rng.choice(rows, size=size, replace=False)) for _ in range(DEVIATION_SAMPLES)]
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
    predict: Callable[[Any], np.ndarray], rows, y: np.ndarray, features, seed: int = 0, repeats: int = 3,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None, max_scored_rows: int = PERMUTATION_BUDGET,
) -> dict[str, float]:
    """Mean drop in the test metric (higher is better; default ROC AUC of binary scores) when one raw
    column's values are shuffled: what the model leans on, in the columns a person knows (not the
    columns the preprocessor makes). 0 when the metric is undefined.

    It scores rows x features x repeats rows in all: beyond `max_scored_rows` a seeded sample of the
    rows is used (300 columns of 3,000 rows took 100 s through the pipeline), never fewer than
    PERMUTATION_MIN_ROWS."""
    metric = metric or _binary_auc
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    features = list(features)
    keep = max(PERMUTATION_MIN_ROWS, max_scored_rows // max(1, len(features) * repeats))
    if len(rows) > keep:
        chosen = np.sort(np.random.default_rng(seed).choice(len(rows), keep, replace=False))
        rows, y = rows.iloc[chosen].reset_index(drop=True), y[chosen]
    base = metric(y, predict(rows))
    if not np.isfinite(base):
        return {name: 0.0 for name in features}
    drops = {}
    shuffled = rows.copy()  # one copy: each column is shuffled, scored and put back
    for name in features:
        original = rows[name].to_numpy()
        scores = []
        for _ in range(repeats):
            shuffled[name] = original[rng.permutation(len(rows))]
            scores.append(base - metric(y, predict(shuffled)))
        shuffled[name] = rows[name]
        drops[name] = float(np.mean(scores))
    return drops


def _binary_auc(y, proba) -> float:
    y = np.asarray(y).astype(int)
    return float(roc_auc_score(y, proba)) if len(np.unique(y)) == 2 else float("nan")


# ---- multi-class -----------------------------------------------------------------------------------
def _multiclass_scalars(y: np.ndarray, proba: np.ndarray, classes: int) -> dict[str, float]:
    from sklearn.metrics import log_loss, precision_recall_fscore_support

    pred = np.argmax(proba, axis=1)
    values = {"accuracy": float(np.mean(pred == y))}
    shares = np.bincount(y, minlength=classes) / max(len(y), 1)
    majority = float(shares.max()) if len(y) else 0.0
    values["accuracy_best_constant_classifier"] = majority
    precision, recall, _, _ = precision_recall_fscore_support(y, pred, labels=list(range(classes)), average="weighted",
                                                              zero_division=0)
    values["weighted_recall"], values["weighted_precision"] = float(recall), float(precision)
    # the best constant classifier predicts the commonest class: its precision there is its share, recall 1
    values["weighted_recall_best_constant_classifier"] = majority
    values["weighted_precision_best_constant_classifier"] = majority * majority
    for beta, name in ((0.5, "f0_5"), (1.0, "f1"), (2.0, "f2")):
        f = precision_recall_fscore_support(y, pred, labels=list(range(classes)), beta=beta, average="weighted",
                                            zero_division=0)[2]
        values[f"weighted_{name}"] = float(f)
        values[f"weighted_{name}_best_constant_classifier"] = majority * _f_beta(majority, 1.0, beta)
    from .target import ovr_macro_auc

    values["auc"] = ovr_macro_auc(y, proba)  # one-vs-rest, macro: not a Model Monitor metric
    values["log_loss"] = float(log_loss(y, np.clip(proba, 1e-15, 1), labels=list(range(classes)))) if len(y) else float("nan")
    return values


def multiclass_classification_report(y_true, proba, labels: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Model Monitor's multiclass_classification_metrics for class codes (0..k-1, `labels` order) and probabilities."""
    from sklearn.metrics import precision_recall_fscore_support

    y = np.asarray(y_true).astype(int)
    proba = np.asarray(proba, dtype=float)
    classes = len(labels)
    values = _multiclass_scalars(y, proba, classes)
    deviations = _sample_deviations(lambda idx: _multiclass_scalars(y[idx], proba[idx], classes), len(y), seed)
    pred = np.argmax(proba, axis=1)
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (y, pred), 1)
    metrics: dict[str, Any] = {
        "confusion_matrix": {labels[a]: {labels[p]: int(matrix[a, p]) for p in range(classes)} for a in range(classes)}
    }
    for name, value in values.items():
        metrics[name] = {"value": _number(value), "standard_deviation": deviations[name]}
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=list(range(classes)), zero_division=0)
    metrics["per_class"] = {
        labels[c]: {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]), "support": int(support[c])}
        for c in range(classes)
    }
    return {"version": 0.0, "dataset": _dataset(len(y)), "multiclass_classification_metrics": metrics}


# ---- regression ------------------------------------------------------------------------------------
def _regression_scalars(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    errors = y - predicted
    mse = float(np.mean(errors ** 2)) if len(y) else float("nan")
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return {"mae": float(np.mean(np.abs(errors))) if len(y) else float("nan"), "mse": mse, "rmse": float(np.sqrt(mse)),
            "r2": float(1 - np.sum(errors ** 2) / total) if total > 0 else float("nan")}


def regression_report(y_true, predicted, train_mean: float, seed: int = 0) -> dict[str, Any]:
    """Model Monitor's regression_metrics, and beside them the same figures for predicting the training mean."""
    y = np.asarray(y_true, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    baseline = np.full_like(y, float(train_mean))
    sections = {}
    for name, values in (("regression_metrics", predicted), ("train_mean_baseline", baseline)):
        figures = _regression_scalars(y, values)
        deviations = _sample_deviations(lambda idx, v=values: _regression_scalars(y[idx], v[idx]), len(y), seed)
        sections[name] = {k: {"value": _number(v), "standard_deviation": deviations[k]} for k, v in figures.items()}
    sections["train_mean_baseline"]["train_mean"] = float(train_mean)
    return {"version": 0.0, "dataset": _dataset(len(y)), **sections}


def skill(rmse: float, baseline_rmse: float) -> float:
    """1 - RMSE / RMSE of predicting the training mean: 0 is no better than the mean, 1 is perfect."""
    return float(1 - rmse / baseline_rmse) if baseline_rmse > 0 and np.isfinite(rmse) else float("nan")


def _dataset(rows: int) -> dict[str, Any]:
    return {"item_count": int(rows), "evaluation_time": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ---- one entry for every kind ----------------------------------------------------------------------
def gate_metric(model) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
    """(name, fn(y, scores) -> value, higher is better) of the model's gate: what the register step re-scores."""
    schema = model.schema
    if schema.kind == "regression":
        train_mean = float(model.metadata["target_mean"])

        def regression_skill(y, predicted):
            y = np.asarray(y, float)
            return skill(float(np.sqrt(np.mean((y - predicted) ** 2))), float(np.sqrt(np.mean((y - train_mean) ** 2))))

        return "skill_vs_train_mean", regression_skill
    if schema.kind == "multiclass":
        from .target import ovr_macro_auc

        return "ovr_macro_auc", lambda y, proba: ovr_macro_auc(np.asarray(y).astype(int), proba)
    return "auc", _binary_auc


def evaluate(model, test, seed: int = 0) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(evaluation.json's content with its gate section, encoded truth, scores) of a model on test rows."""
    from common.errors import DataError

    schema = model.schema
    if schema.target not in test.columns:
        raise DataError(f"input 'test' has no target column '{schema.target}'; columns are {list(test.columns)}")
    y = schema.encode_target(test[schema.target]).to_numpy()
    scores = model.predict(test)
    name, metric = gate_metric(model)
    value = metric(y, scores)
    if schema.kind == "regression":
        report = regression_report(y, scores, model.metadata["target_mean"], seed=seed)
        baseline = {"train_mean": report["train_mean_baseline"]["train_mean"],
                    "rmse": report["train_mean_baseline"]["rmse"]["value"]}
    elif schema.kind == "multiclass":
        report = multiclass_classification_report(y, scores, schema.labels, seed=seed)
        baseline = 0.5
    else:
        report = binary_classification_report(y, scores, model.threshold, labels=(schema.negative_label, schema.positive_label),
                                              seed=seed)
        baseline = 0.5
    # pipeline.evaluation_file's gate section (a core does not import the pipeline layer)
    report["gate"] = {"metric": name, "value": value if np.isfinite(value) else None, "higher_is_better": True,
                      "baseline": baseline}
    report["model_sha256"] = model.metadata["model_sha256"]
    return report, y, scores
