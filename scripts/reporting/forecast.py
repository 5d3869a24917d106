"""evaluation_report.html for a forecaster: actual against forecast (with intervals) for the best,
the median and the worst series, and the per-series error beside the seasonal-naive baseline.

Frames (the forecast core's long format):
  actuals            series, timestamp, value            (history and the test window)
  forecasts          series, timestamp, mean, lower, upper
  per_series_metrics series, <metric>...                 (e.g. mase, smape, rmse)
  baseline_metrics   series, <metric>...                 (the same for seasonal naive)
The first metric column shared by both metric frames ranks the series (lower is better).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from common.errors import DataError
from . import svg

HISTORY_POINTS = 3  # history shown before the forecast window, in multiples of the horizon
PREFERRED_METRICS = ("mase", "smape", "rmse", "mae")


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what} has no column(s) {missing}; columns are {list(frame.columns)}")


def _ranking_metric(per_series: pd.DataFrame, baseline: pd.DataFrame) -> str:
    shared = [c for c in per_series.columns if c != "series" and c in baseline.columns
              and pd.api.types.is_numeric_dtype(per_series[c])]
    if not shared:
        raise DataError("per-series and baseline metrics share no numeric metric column")
    for name in PREFERRED_METRICS:
        if name in shared:
            return name
    return shared[0]


def pick_series(per_series: pd.DataFrame, metric: str) -> list[tuple[str, object]]:
    """(role, series id) for the best, the median and the worst series by `metric` (ties by id)."""
    ranked = per_series.dropna(subset=[metric]).sort_values([metric, "series"], kind="stable")
    if ranked.empty:
        raise DataError(f"no series has a finite '{metric}'")
    ids = ranked["series"].tolist()
    picks = [("best", ids[0]), ("median", ids[(len(ids) - 1) // 2]), ("worst", ids[-1])]
    seen, out = set(), []
    for role, series in picks:
        if series not in seen:
            seen.add(series)
            out.append((role, series))
    return out




def _series_plot(role: str, series, actuals: pd.DataFrame, forecasts: pd.DataFrame, metric: str,
                 score: float, baseline_score: float) -> str:
    fc = forecasts[forecasts["series"] == series].sort_values("timestamp")
    act = actuals[actuals["series"] == series].sort_values("timestamp")
    if len(fc):
        start = pd.to_datetime(fc["timestamp"]).min()
        history = act[pd.to_datetime(act["timestamp"]) < start].tail(HISTORY_POINTS * len(fc))
        act = pd.concat([history, act[pd.to_datetime(act["timestamp"]) >= start]])
    stamps = pd.concat([pd.to_datetime(act["timestamp"]), pd.to_datetime(fc["timestamp"])], ignore_index=True)
    origin = stamps.min()
    days = lambda s: ((pd.to_datetime(s) - origin).dt.total_seconds() / 86400).to_numpy()  # noqa: E731
    lines = [svg.Line("actual", days(act["timestamp"]), act["value"].to_numpy(float), color="#222222")]
    if len(fc):
        lines.append(svg.Line("forecast", days(fc["timestamp"]), fc["mean"].to_numpy(float), color="#1f77b4",
                              low=fc["lower"].to_numpy(float) if "lower" in fc else None,
                              high=fc["upper"].to_numpy(float) if "upper" in fc else None))
    title = f"{role}: {series} ({metric} {score:.3g}, seasonal naive {baseline_score:.3g})"
    return svg.line_chart(f"series_{role}", title, lines, f"days since {origin.date()}", "value")


def render(actuals: pd.DataFrame, forecasts: pd.DataFrame, per_series_metrics: pd.DataFrame,
           baseline_metrics: pd.DataFrame) -> str:
    """The whole report as one HTML string; the same inputs give the same bytes."""
    _require(actuals, ["series", "timestamp", "value"], "actuals")
    _require(forecasts, ["series", "timestamp", "mean"], "forecasts")
    _require(per_series_metrics, ["series"], "per-series metrics")
    _require(baseline_metrics, ["series"], "baseline metrics")
    metric = _ranking_metric(per_series_metrics, baseline_metrics)
    merged = per_series_metrics[["series", metric]].merge(
        baseline_metrics[["series", metric]], on="series", how="left", suffixes=("", "_baseline"))
    plots = []
    for role, series in pick_series(per_series_metrics, metric):
        row = merged[merged["series"] == series].iloc[0]
        plots.append(_series_plot(role, series, actuals, forecasts, metric, float(row[metric]),
                                  float(row[f"{metric}_baseline"])))
    model_values = merged[metric].to_numpy(float)
    baseline_values = merged[f"{metric}_baseline"].to_numpy(float)
    both = np.isfinite(model_values) & np.isfinite(baseline_values)
    cap = np.nanpercentile(np.concatenate([model_values[both], baseline_values[both]]), 99) if both.any() else 1.0
    distribution = svg.histogram(
        "error_distribution", f"Per-series {metric}: model against seasonal naive",
        [("model", np.minimum(model_values[both], cap)), ("seasonal naive", np.minimum(baseline_values[both], cap))],
        bins=30, x_label=f"{metric} (capped at the 99th percentile, {cap:.3g})", y_label="share of series")
    wins = int(np.sum(model_values[both] < baseline_values[both]))
    summary = []
    for name in [c for c in per_series_metrics.columns if c != "series" and c in baseline_metrics.columns]:
        if pd.api.types.is_numeric_dtype(per_series_metrics[name]):
            summary.append([name, float(per_series_metrics[name].mean()), float(baseline_metrics[name].mean()),
                            float(per_series_metrics[name].median()), float(baseline_metrics[name].median())])
    sections = [
        "<h2>Actual against forecast</h2>",
        '<p class="note">Series ranked by ' + svg.esc(metric) + ": the best, the median and the worst; "
        "the band is the forecast's prediction interval.</p>",
        '<div class="grid">', *plots, "</div>",
        "<h2>Errors against the seasonal-naive baseline</h2>",
        f'<p class="note">The model beats seasonal naive on {wins} of {int(both.sum())} series.</p>',
        '<div class="grid">', distribution, "</div>",
        svg.table(["metric", "model mean", "seasonal naive mean", "model median", "seasonal naive median"], summary),
    ]
    subtitle = f"{per_series_metrics['series'].nunique()} series, horizon {forecasts.groupby('series').size().max()} steps"
    return svg.page("Evaluation report: forecaster", sections, subtitle)
