"""Real inputs for the reports: a trained lending_club model's test predictions, and forecast frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def classifier_inputs(model_dir, lending_split):
    from tasks.classifier import artifact
    from tasks.classifier.evaluation import binary_classification_report

    sch, train, validation, test = lending_split
    model = artifact.load(model_dir)
    y = sch.encode_target(test[sch.target])
    proba = model.predict_proba(test)
    metrics = binary_classification_report(y, proba, model.threshold, labels=(sch.negative_label, sch.positive_label))
    metrics["dataset"]["evaluation_time"] = "2024-01-01T00:00:00+00:00"  # fixed, for byte-stable output
    # a weaker "champion": the same scores with noise, as a second model would give
    champion = np.clip(proba + np.random.default_rng(1).normal(0, 0.05, len(proba)), 0, 1)
    features = [c for c in test.columns if c not in (sch.target, *sch.id_columns)]
    importances = pd.Series(np.linspace(1, 0.05, len(features)), index=features)
    return {"y": np.asarray(y), "proba": np.asarray(proba), "threshold": model.threshold,
            "labels": (sch.negative_label, sch.positive_label), "metrics": metrics,
            "champion_proba": champion, "importances": importances, "test": test, "train": train, "schema": sch}


@pytest.fixture(scope="session")
def forecast_inputs():
    """Twelve daily series with weekly cycles: 8 weeks of history, a 14-day test window, model and baseline errors."""
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2024-01-01", periods=70, freq="D")
    actual_rows, forecast_rows, metric_rows, baseline_rows = [], [], [], []
    for i in range(12):
        series = f"server-{i:02d}"
        noise = 1 + i * 0.6
        level = 50 + 5 * i
        weekly = 10 * np.sin(2 * np.pi * np.arange(70) / 7)
        values = level + weekly + rng.normal(0, noise, 70)
        actual_rows.append(pd.DataFrame({"series": series, "timestamp": stamps, "value": values}))
        mean = level + weekly[-14:]
        forecast_rows.append(pd.DataFrame({"series": series, "timestamp": stamps[-14:], "mean": mean,
                                           "lower": mean - 1.96 * noise, "upper": mean + 1.96 * noise}))
        error = np.abs(values[-14:] - mean).mean()
        scale = np.abs(values[7:-14] - values[:-21]).mean()  # in-sample seasonal-naive error
        naive = np.abs(values[-14:] - np.tile(values[-21:-14], 2)).mean()
        metric_rows.append({"series": series, "mase": error / scale, "rmse": float(np.sqrt(np.mean((values[-14:] - mean) ** 2)))})
        baseline_rows.append({"series": series, "mase": naive / scale,
                              "rmse": float(np.sqrt(np.mean((values[-14:] - np.tile(values[-21:-14], 2)) ** 2)))})
    return (pd.concat(actual_rows, ignore_index=True), pd.concat(forecast_rows, ignore_index=True),
            pd.DataFrame(metric_rows), pd.DataFrame(baseline_rows))
