"""Forecast quality on the test window, always beside seasonal naive, in Model Monitor's format.

MASE divides each series' mean absolute error by the in-sample MAE of seasonal naive on its
history (train + validation); series whose history has no seasonal change (constant) have no
MASE and are counted, not averaged. sMAPE is in percent, 0-200; a point where actual and
forecast are both 0 counts as 0. Aggregates are means over series.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from common.errors import DataError

from .model import ForecastModel

MIN_ROWS_FOR_DEVIATION = 200
DEVIATION_SAMPLES = 5
DEVIATION_FRACTION = 0.8
MIN_SCALE = 1e-9


def _pointwise(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    error = frame["actual"] - frame[column]
    denominator = frame["actual"].abs() + frame[column].abs()
    smape = np.where(denominator > 0, 200 * error.abs() / denominator.where(denominator > 0, 1), 0.0)
    return pd.DataFrame({"series": frame["series"], "abs": error.abs(), "sq": error * error, "smape": smape})


def _per_series(points: pd.DataFrame, scale: pd.Series) -> pd.DataFrame:
    grouped = points.groupby("series", sort=True)
    table = pd.DataFrame({"mae": grouped["abs"].mean(), "rmse": np.sqrt(grouped["sq"].mean()),
                          "smape": grouped["smape"].mean()})
    usable = scale.reindex(table.index)
    table["mase"] = table["mae"] / usable.where(usable > MIN_SCALE)  # below: no seasonal change, rounding noise
    return table


def _regression_scalars(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    error = actual - predicted
    mse = float(np.mean(error * error))
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {"mae": float(np.mean(np.abs(error))), "mse": mse, "rmse": float(np.sqrt(mse)),
            "r2": 1 - float(np.sum(error * error)) / total if total > 0 else float("nan")}


def regression_metrics(actual: np.ndarray, predicted: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Model Monitor's regression_metrics: each {value, standard_deviation}; the deviation is the
    metric's spread over five random 80 % samples, "NaN" below 200 points (as Model Monitor does)."""
    values = _regression_scalars(actual, predicted)
    if len(actual) < MIN_ROWS_FOR_DEVIATION:
        deviations = {name: "NaN" for name in values}
    else:
        rng = np.random.default_rng(seed)
        size = int(DEVIATION_FRACTION * len(actual))
        samples = []
        for _ in range(DEVIATION_SAMPLES):
            pick = rng.choice(len(actual), size=size, replace=False)
            samples.append(_regression_scalars(actual[pick], predicted[pick]))
        deviations = {name: _number(float(np.nanstd([s[name] for s in samples]))) for name in values}
    return {name: {"value": _number(value), "standard_deviation": deviations[name]} for name, value in values.items()}


def _number(value: float) -> Any:
    return "NaN" if not np.isfinite(value) else value


def _summary(table: pd.DataFrame) -> dict[str, Any]:
    mase = table["mase"].dropna()
    return {
        "mase": _number(float(mase.mean())) if len(mase) else "NaN",
        "smape": _number(float(table["smape"].mean())),
        "rmse": _number(float(table["rmse"].mean())),
        "mae": _number(float(table["mae"].mean())),
    }


def evaluate(model: ForecastModel, test: pd.DataFrame, seed: int = 0) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """(evaluation report, forecasts beside actuals, per-series metrics) for the test window.

    The test window must be the H points after each series' training history.
    """
    test = test.sort_values(["series", "timestamp"], kind="stable")
    ids = sorted(pd.unique(test["series"]).astype(str))
    sizes = test.groupby("series").size()
    if (sizes != model.horizon).any():
        bad = sizes[sizes != model.horizon]
        raise DataError(f"test windows must hold {model.horizon} points; series '{bad.index[0]}' has {bad.iloc[0]}")
    forecasts = model.forecast(ids)
    naive = model.naive_forecast(ids)
    actual = test.assign(series=test["series"].astype(str)).rename(columns={"value": "actual"})
    merged = forecasts.merge(actual[["series", "timestamp", "actual"]], on=["series", "timestamp"], how="left")
    if len(merged) != len(forecasts) or merged["actual"].isna().all():
        raise DataError("test timestamps do not follow the model's history: evaluate on the split's test window")
    merged["naive"] = naive["mean"].to_numpy()
    scored = merged.dropna(subset=["actual"])
    scale = pd.Series(model.states["scale"], index=model.states["series"].astype(str))
    model_table = _per_series(_pointwise(scored, "mean"), scale)
    naive_table = _per_series(_pointwise(scored, "naive"), scale)
    per_series = model_table.join(naive_table.add_suffix("_seasonal_naive"))
    per_series["method"] = pd.Series(model.states["method"], index=model.states["series"].astype(str)).reindex(
        per_series.index)
    per_series = per_series.reset_index()

    ours, baseline = _summary(model_table), _summary(naive_table)
    skill = (1 - ours["mase"] / baseline["mase"]
             if isinstance(ours["mase"], float) and isinstance(baseline["mase"], float) and baseline["mase"] > 0
             else "NaN")
    inside = (scored["actual"] >= scored["lower"]) & (scored["actual"] <= scored["upper"])
    mase = per_series["mase"].dropna()
    both = per_series.dropna(subset=["mase", "mase_seasonal_naive"])
    y, yhat = scored["actual"].to_numpy(float), scored["mean"].to_numpy(float)
    report = {
        "version": 0.0,
        "dataset": {"item_count": int(len(scored)),
                    "evaluation_time": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "regression_metrics": regression_metrics(y, yhat, seed),
        "forecast": {
            "horizon": model.horizon,
            "season": model.season,
            "freq": model.freq,
            "series": len(ids),
            "series_without_mase": int(per_series["mase"].isna().sum()),
            "points_scored": int(len(scored)),
            "points_missing": int(len(merged) - len(scored)),
            "model": ours,
            "seasonal_naive": baseline,
            "seasonal_naive_regression_metrics": regression_metrics(y, scored["naive"].to_numpy(float), seed),
            "interval_level": model.interval_level,
            "interval_coverage": float(inside.mean()) if len(scored) else "NaN",
            "methods": model.summary(),
            "per_series": {
                "mase_quantiles": {str(q): _number(float(mase.quantile(q))) for q in (0.1, 0.25, 0.5, 0.75, 0.9)}
                if len(mase) else {},
                "beats_seasonal_naive": int((both["mase"] < both["mase_seasonal_naive"]).sum()),
                "worst_by_mase": both.nlargest(5, "mase")[["series", "mase", "mase_seasonal_naive"]].to_dict("records"),
            },
        },
        "gate": {
            "metric": "skill_vs_seasonal_naive",
            "value": _number(skill) if isinstance(skill, float) else skill,
            "higher_is_better": True,
            "baseline": {"name": "seasonal_naive", "mase": baseline["mase"], "model_mase": ours["mase"]},
        },
    }
    return report, merged, per_series


def with_hosts(forecasts: pd.DataFrame, series_by_host: dict[str, list[str]]) -> pd.DataFrame:
    """The evaluated forecasts with a `host` column: the training host that fitted each series (the
    artifact's index); every forecast series must belong to exactly one host."""
    owner: dict[str, str] = {}
    for host, ids in series_by_host.items():
        for sid in ids:
            if owner.setdefault(sid, host) != host:
                raise DataError(f"series '{sid}' is in the parts of both {owner[sid]} and {host}")
    hosts = forecasts["series"].astype(str).map(owner)
    if hosts.isna().any():
        raise DataError(f"series '{forecasts['series'][hosts.isna()].iloc[0]}' is in no host's part of the model")
    return forecasts.assign(host=hosts)
