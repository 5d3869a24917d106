"""Evaluation: metrics beside seasonal naive, Model Monitor's format, the gate; us_employment end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.forecast import cleaning, evaluation, model, seasonality, split

REPO = Path(__file__).resolve().parents[3]


def test_regression_metrics_have_model_monitor_shape():
    rng = np.random.default_rng(0)
    actual = rng.normal(10, 2, 500)
    metrics = evaluation.regression_metrics(actual, actual + rng.normal(0, 1, 500))
    assert set(metrics) == {"mae", "mse", "rmse", "r2"}
    for value in metrics.values():
        assert set(value) == {"value", "standard_deviation"} and isinstance(value["standard_deviation"], float)
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(metrics["mse"]["value"]))
    small = evaluation.regression_metrics(actual[:50], actual[:50])
    assert small["mae"] == {"value": 0.0, "standard_deviation": "NaN"} and small["r2"]["value"] == 1.0


def test_us_employment_end_to_end_beats_seasonal_naive():
    raw = pd.read_csv(REPO / "data" / "us_employment.csv")
    horizon = 24
    long, report = cleaning.clean(raw, series="Series_ID", time="Month", value="Employed",
                                  min_length=cleaning.min_length_for(horizon, 12))
    assert report["freq"] == "MS" and report["totals"]["series_in"] == 148
    assert report["totals"]["series_kept"] == 148
    ids = np.array(sorted(long.series.unique()), dtype=object)
    season, evidence = seasonality.choose(model.to_matrix(long, ids)[0], report["freq"])
    assert season == 12, evidence
    train, validation, test = split.split(long, horizon)
    fitted = model.fit(train, validation, horizon, season, freq=report["freq"])
    result, forecasts, per_series = evaluation.evaluate(fitted, test)
    section = result["forecast"]
    assert section["model"]["mase"] < section["seasonal_naive"]["mase"]
    assert result["gate"]["metric"] == "skill_vs_seasonal_naive" and result["gate"]["higher_is_better"] is True
    assert result["gate"]["value"] == pytest.approx(1 - section["model"]["mase"] / section["seasonal_naive"]["mase"])
    assert set(result["regression_metrics"]) == {"mae", "mse", "rmse", "r2"}
    assert len(per_series) == 148 and {"mase", "mase_seasonal_naive", "smape", "rmse", "method"} <= set(per_series)
    assert {"series", "step", "timestamp", "mean", "lower", "upper", "actual", "naive"} <= set(forecasts)
    assert 0.5 < section["interval_coverage"] <= 1.0


def test_an_exactly_repeating_series_is_forecast_exactly_and_has_no_mase():
    t = np.arange(24 * 10)
    values = 10 + np.sin(2 * np.pi * t / 24) * 3
    data = pd.DataFrame({"series": "p", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                         "value": values})
    train, validation, test = split.split(data, 24)
    fitted = model.fit(train, validation, 24, 24, freq="h")
    result, _, per_series = evaluation.evaluate(fitted, test)
    assert per_series["mae"].iloc[0] == pytest.approx(0, abs=1e-9)
    assert result["forecast"]["model"]["smape"] == pytest.approx(0, abs=1e-6)
    # seasonal naive makes no error in-sample either: MASE has no scale, so it is counted, not averaged
    assert np.isnan(per_series["mase"].iloc[0]) and result["forecast"]["series_without_mase"] == 1
    assert result["gate"]["value"] == "NaN"
