"""evaluation_report.html for a binary classifier: curves, calibration, confusion matrix, metrics
with bootstrap intervals, important features, and the champion beside the challenger.

`champion` (optional, added by the register step, which knows both models):
  {"name": "champion v3", "proba": array on the same rows, "threshold": float}  -> re-scored side by side
  {"name": "champion v3", "metrics": evaluation.json of the champion}           -> "not re-scored"
`drift` (optional): the drift table as a DataFrame or records (monitoring.drift.DriftResult.table).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from . import drift as drift_report
from . import roles as roles_report
from . import svg

BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_SEED = 0
CALIBRATION_BINS = 10
TOP_FEATURES = 15
LINES = 600


def _at_threshold(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    pred = proba >= threshold
    tp = np.sum(pred & (y == 1))
    fp = np.sum(pred & (y == 0))
    fn = np.sum(~pred & (y == 1))
    tn = np.sum(~pred & (y == 0))
    div = lambda a, b: float(a / b) if b else 0.0  # noqa: E731
    precision, recall = div(tp, tp + fp), div(tp, tp + fn)
    return {
        "precision": precision, "recall": recall, "f1": div(2 * precision * recall, precision + recall),
        "accuracy": div(tp + tn, len(y)), "false_positive_rate": div(fp, fp + tn),
    }


def ranking_metrics(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """(ROC AUC, average precision) as scikit-learn defines them, from one sort (bootstrap runs it 200 times)."""
    positives = int(y.sum())
    if not 0 < positives < len(y):
        return float("nan"), float("nan")
    order = np.argsort(-proba, kind="stable")
    scores, hits = proba[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(hits)[last_of_tie].astype(float)
    fps = (last_of_tie + 1) - tps
    negatives = len(y) - positives
    tpr, fpr = np.r_[0.0, tps / positives], np.r_[0.0, fps / negatives]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    average_precision = float(np.sum(np.diff(tpr) * (tps / (tps + fps))))
    return auc, average_precision


def point_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    clipped = np.clip(proba, 1e-12, 1 - 1e-12)
    auc, average_precision = ranking_metrics(y, proba)
    values = {
        "auc": auc,
        "average_precision": average_precision,
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        "brier": float(np.mean((proba - y) ** 2)),
    }
    values.update(_at_threshold(y, proba, threshold))
    return values


def bootstrap_intervals(y: np.ndarray, proba: np.ndarray, threshold: float, samples: int = BOOTSTRAP_SAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> dict[str, tuple[float, float]]:
    """95% percentile intervals over `samples` resamples of the rows (seeded: the report is deterministic)."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(samples):
        idx = rng.integers(0, len(y), len(y))
        for name, value in point_metrics(y[idx], proba[idx], threshold).items():
            draws.setdefault(name, []).append(value)
    return {name: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for name, v in draws.items()}


def _calibration(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean predicted and observed positive rate in bins of equal row count (rare positives need it)."""
    order = np.argsort(proba, kind="stable")
    chunks = [c for c in np.array_split(order, CALIBRATION_BINS) if len(c)]
    return np.array([proba[c].mean() for c in chunks]), np.array([y[c].mean() for c in chunks])


def _models(y, proba, threshold, champion) -> list[dict[str, Any]]:
    models = [{"name": "challenger", "proba": np.asarray(proba, float), "threshold": float(threshold)}]
    if champion and champion.get("proba") is not None:
        models.append({"name": champion.get("name", "champion"), "proba": np.asarray(champion["proba"], float),
                       "threshold": float(champion.get("threshold", threshold))})
    return models


def _curves(y: np.ndarray, models: list[dict]) -> list[str]:
    roc_lines, pr_lines, cal_lines = [], [], []
    for m in models:
        fpr, tpr, _ = roc_curve(y, m["proba"])
        roc_lines.append(svg.Line(f"{m['name']} (AUC {roc_auc_score(y, m['proba']):.3f})", fpr, tpr))
        precision, recall, _ = precision_recall_curve(y, m["proba"])
        pr_lines.append(svg.Line(f"{m['name']} (AP {average_precision_score(y, m['proba']):.3f})", recall, precision))
        predicted, observed = _calibration(y, m["proba"])
        cal_lines.append(svg.Line(m["name"], predicted, observed, points=True))
    base_rate = float(y.mean())
    pr_lines.append(svg.Line(f"base rate {base_rate:.3f}", [0, 1], [base_rate, base_rate], color="#999", dashed=True))
    top = float(max(max(np.max(l.xs) for l in cal_lines), max(np.max(l.ys) for l in cal_lines)))
    top = min(1.0, max(0.05, top * 1.1))
    return [
        svg.line_chart("roc", "ROC curve", roc_lines, "false positive rate", "true positive rate",
                       x_range=(0, 1), y_range=(0, 1), diagonal=True),
        svg.line_chart("precision_recall", "Precision-recall curve", pr_lines, "recall", "precision",
                       x_range=(0, 1), y_range=(0, 1)),
        svg.line_chart("calibration", "Calibration (deciles of predicted probability)", cal_lines,
                       "mean predicted probability", "observed positive rate",
                       x_range=(0, top), y_range=(0, top), diagonal=True),
    ]


def _confusion(y: np.ndarray, m: dict, labels: Sequence[str]) -> str:
    pred = (m["proba"] >= m["threshold"]).astype(int)
    matrix = [[int(np.sum((y == a) & (pred == p))) for p in (0, 1)] for a in (0, 1)]
    return svg.heatmap(f"confusion_{m['name']}", f"Confusion matrix, {m['name']} at threshold {m['threshold']:.3f}",
                       matrix, list(labels), list(labels), row_title="actual", col_title="predicted")


METRIC_ORDER = ("auc", "average_precision", "log_loss", "brier", "precision", "recall", "f1", "accuracy",
                "false_positive_rate")


def _metric_table(y, models, champion) -> str:
    headers = ["metric"]
    columns = []
    for m in models:
        values = point_metrics(y, m["proba"], m["threshold"])
        intervals = bootstrap_intervals(y, m["proba"], m["threshold"])
        headers += [m["name"], "95% interval"]
        columns.append({k: (values[k], f"{intervals[k][0]:.4f} .. {intervals[k][1]:.4f}") for k in METRIC_ORDER})
    recorded = champion and champion.get("proba") is None and champion.get("metrics")
    if recorded:
        headers.append(f"{champion.get('name', 'champion')} (recorded, not re-scored)")
    rows = []
    for name in METRIC_ORDER:
        row: list[Any] = [name]
        for column in columns:
            row += [column[name][0], column[name][1]]
        if recorded:
            row.append(_recorded_value(champion["metrics"], name))
        rows.append(row)
    return svg.table(headers, rows)


def _recorded_value(evaluation: Mapping, name: str) -> Any:
    aliases = {"auc": "auc", "precision": "precision", "recall": "recall", "f1": "f1", "accuracy": "accuracy",
               "false_positive_rate": "false_positive_rate"}
    section = evaluation.get("binary_classification_metrics", evaluation)
    entry = section.get(aliases.get(name, name)) if isinstance(section, Mapping) else None
    if isinstance(entry, Mapping):
        entry = entry.get("value")
    return entry if isinstance(entry, (int, float)) else ""


def _importances(importances: Mapping[str, float] | pd.Series | None) -> str:
    if importances is None or len(importances) == 0:
        return ""
    series = pd.Series(importances, dtype=float).dropna()
    series = series.reindex(series.abs().sort_values(ascending=False, kind="stable").index)[:TOP_FEATURES]
    return svg.bar_chart("importances", f"Most important features (top {len(series)})", [str(i) for i in series.index],
                         [("importance", series.tolist())], x_label="importance")


def _closing_sections(importances, drift, roles, champion_roles) -> list[str]:
    """What every kind's page ends with: importances, drift, and the column roles (the champion's beside them)."""
    sections = []
    importance_plot = _importances(importances)
    if importance_plot:
        sections += ["<h2>Features</h2>", '<div class="grid">', importance_plot, "</div>"]
    return [*sections, drift_report.table_section(drift), roles_report.section(roles, champion_roles)]


def render(y_true, proba, threshold: float, labels: Sequence[str], metrics: Mapping[str, Any],
           importances: Mapping[str, float] | pd.Series | None = None, champion: Mapping[str, Any] | None = None,
           drift: pd.DataFrame | Sequence[Mapping] | None = None, roles: Mapping[str, str] | None = None,
           champion_roles: Mapping[str, str] | None = None) -> str:
    """The whole report as one HTML string; the same inputs give the same bytes."""
    y = np.asarray(y_true).astype(int)
    models = _models(y, proba, threshold, champion)
    item_count = metrics.get("dataset", {}).get("item_count", len(y))
    subtitle = (f"{item_count} test rows, {int(y.sum())} labelled '{labels[1]}' ({y.mean():.1%}); "
                f"decision threshold {float(threshold):.4f}")
    if "model_sha256" in metrics:
        subtitle += f"; model sha256 {str(metrics['model_sha256'])[:12]}"
    sections = ["<h2>Ranking and calibration</h2>", '<div class="grid">', *_curves(y, models), "</div>",
                "<h2>At the decision threshold</h2>", '<div class="grid">',
                *[_confusion(y, m, labels) for m in models], "</div>",
                "<h2>Metrics</h2>",
                f'<p class="note">Intervals: 2.5th to 97.5th percentile over {BOOTSTRAP_SAMPLES} bootstrap '
                f"resamples of the test rows (seed {BOOTSTRAP_SEED}).</p>",
                _metric_table(y, models, champion)]
    if len(models) > 1:
        challenger, champ = (point_metrics(y, m["proba"], m["threshold"]) for m in models)
        names = ["auc", "average_precision", "precision", "recall", "f1"]
        sections += ['<div class="grid">', svg.bar_chart("comparison", "Challenger and champion",
                     names, [("challenger", [challenger[n] for n in names]),
                             (models[1]["name"], [champ[n] for n in names])]), "</div>"]
    sections += _closing_sections(importances, drift, roles, champion_roles)
    return svg.page("Evaluation report: classifier", sections, subtitle)


# ---- every kind of target: the artifact's kind picks the page ----------------------------------------
def render_model(model, y, scores, metrics: Mapping[str, Any], importances=None, champion: Mapping[str, Any] | None = None,
                 drift=None, champion_roles: Mapping[str, str] | None = None) -> str:
    """The report of a model (tasks.classifier.artifact.Model) on encoded truth `y` and its `scores`.

    `champion` (register's): {"name", "scores": the champion's scores on the same rows, "threshold"} or
    {"name", "metrics"} (not re-scored); `champion_roles`: its column roles, shown beside the model's."""
    schema = model.schema
    champ = dict(champion or {})
    if "scores" in champ:
        champ["proba"] = champ.pop("scores")
    if schema.kind == "multiclass":
        return render_multiclass(y, scores, schema.labels, metrics, importances, champ or None, drift,
                                 schema.roles, champion_roles)
    if schema.kind == "regression":
        return render_regression(y, scores, float(model.metadata["target_mean"]), metrics, importances, champ or None, drift,
                                 schema.roles, champion_roles)
    return render(y, scores, model.threshold, (schema.negative_label, schema.positive_label), metrics,
                  importances=importances, champion=champ or None, drift=drift, roles=schema.roles,
                  champion_roles=champion_roles)


MULTICLASS_ORDER = ("auc", "log_loss", "accuracy", "weighted_precision", "weighted_recall", "weighted_f1",
                    "accuracy_best_constant_classifier", "weighted_f1_best_constant_classifier")


def _figures_table(names: Sequence[str], columns: list[tuple[str, Mapping[str, Any]]]) -> str:
    """Rows of metrics, a value and its Model Monitor standard deviation per model."""
    headers = ["metric"]
    for title, _ in columns:
        headers += [title, "std dev"]
    rows = []
    for name in names:
        row: list[Any] = [name]
        for _, section in columns:
            entry = section.get(name, {})
            row += [entry.get("value", ""), entry.get("standard_deviation", "")] if isinstance(entry, Mapping) else [entry, ""]
        rows.append(row)
    return svg.table(headers, rows)


def render_multiclass(y, proba, labels: Sequence[str], metrics: Mapping[str, Any], importances=None,
                      champion: Mapping[str, Any] | None = None, drift=None, roles: Mapping[str, str] | None = None,
                      champion_roles: Mapping[str, str] | None = None) -> str:
    """Confusion matrix, per-class figures and the Model Monitor metrics of a multi-class model."""
    from tasks.classifier.evaluation import multiclass_classification_report

    y = np.asarray(y).astype(int)
    section = metrics["multiclass_classification_metrics"]
    models = [("challenger", np.asarray(proba, float), section)]
    if champion and champion.get("proba") is not None:
        champ_proba = np.asarray(champion["proba"], float)
        models.append((champion.get("name", "champion"), champ_proba,
                       multiclass_classification_report(y, champ_proba, labels)["multiclass_classification_metrics"]))
    counts = np.bincount(y, minlength=len(labels))
    subtitle = f"{len(y)} test rows, {len(labels)} classes: " + ", ".join(
        f"'{label}' {n}" for label, n in zip(labels, counts))
    if "model_sha256" in metrics:
        subtitle += f"; model sha256 {str(metrics['model_sha256'])[:12]}"
    heatmaps = []
    for name, p, _ in models:
        pred = np.argmax(p, axis=1)
        matrix = [[int(np.sum((y == a) & (pred == b))) for b in range(len(labels))] for a in range(len(labels))]
        heatmaps.append(svg.heatmap(f"confusion_{name}", f"Confusion matrix, {name} (the likeliest class)", matrix,
                                    list(labels), list(labels), row_title="actual", col_title="predicted"))
    per_class = section.get("per_class", {})
    class_rows = [[label, *(per_class.get(label, {}).get(k, "") for k in ("precision", "recall", "f1", "support"))]
                  for label in labels]
    columns = [(name, s) for name, _, s in models]
    if champion and champion.get("proba") is None and champion.get("metrics"):
        columns.append((f"{champion.get('name', 'champion')} (recorded, not re-scored)",
                        champion["metrics"].get("multiclass_classification_metrics", {})))
    sections = ["<h2>Confusion matrix</h2>", '<div class="grid">', *heatmaps, "</div>",
                "<h2>Metrics</h2>",
                '<p class="note">AUC: one-vs-rest, macro-averaged (the gate). Standard deviations: Model Monitor\'s, '
                "over five random 80% samples of the test rows.</p>",
                _figures_table(MULTICLASS_ORDER, columns),
                "<h2>Per class</h2>", svg.table(["class", "precision", "recall", "f1", "support"], class_rows)]
    sections += _closing_sections(importances, drift, roles, champion_roles)
    return svg.page("Evaluation report: multi-class classifier", sections, subtitle)


REGRESSION_ORDER = ("rmse", "mae", "mse", "r2")


def render_regression(y, predicted, train_mean: float, metrics: Mapping[str, Any], importances=None,
                      champion: Mapping[str, Any] | None = None, drift=None, roles: Mapping[str, str] | None = None,
                      champion_roles: Mapping[str, str] | None = None) -> str:
    """Residuals, predicted against actual, and the figures beside predicting the training mean."""
    from tasks.classifier.evaluation import regression_report

    y = np.asarray(y, float)
    models = [("challenger", np.asarray(predicted, float), metrics["regression_metrics"])]
    if champion and champion.get("proba") is not None:
        champ = np.asarray(champion["proba"], float)
        models.append((champion.get("name", "champion"), champ, regression_report(y, champ, train_mean)["regression_metrics"]))
    subtitle = f"{len(y)} test rows; target mean {y.mean():.4g} (training mean {train_mean:.4g})"
    if "model_sha256" in metrics:
        subtitle += f"; model sha256 {str(metrics['model_sha256'])[:12]}"
    low, high = float(min(y.min(), *(p.min() for _, p, _ in models))), float(max(y.max(), *(p.max() for _, p, _ in models)))
    scatter = svg.line_chart("predicted_actual", "Predicted against actual", [
        svg.Line(name, y[np.argsort(y)], p[np.argsort(y)], points=True) for name, p, _ in models],
        "actual", "predicted", x_range=(low, high), y_range=(low, high), diagonal=True)
    residuals = svg.histogram("residuals", "Residuals (actual - predicted)",
                              [(name, y - p) for name, p, _ in models] + [("training mean", y - train_mean)],
                              x_label="residual")
    columns = [(name, s) for name, _, s in models] + [("training mean", metrics.get("train_mean_baseline", {}))]
    if champion and champion.get("proba") is None and champion.get("metrics"):
        columns.append((f"{champion.get('name', 'champion')} (recorded, not re-scored)",
                        champion["metrics"].get("regression_metrics", {})))
    gate = metrics.get("gate", {})
    sections = ['<div class="grid">', scatter, residuals, "</div>", "<h2>Metrics</h2>",
                f'<p class="note">Gate: skill against the training mean, 1 - RMSE / RMSE of predicting the training '
                f"mean = {gate.get('value')}. Standard deviations: Model Monitor's, over five random 80% samples.</p>",
                _figures_table(REGRESSION_ORDER, columns)]
    sections += _closing_sections(importances, drift, roles, champion_roles)
    return svg.page("Evaluation report: regression", sections, subtitle)
