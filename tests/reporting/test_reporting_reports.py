"""The evaluation reports: every plot present, deterministic bytes, self-contained, escaped text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from monitoring import baseline, drift
from reporting import classifier, forecast, svg

CLASSIFIER_PLOTS = {"roc", "precision_recall", "calibration", "confusion_challenger", "importances"}


def plots_in(page: str) -> list[str]:
    return re.findall(r'<svg class="plot" data-plot="([^"]+)"', page)


def assert_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', page), "no external references"
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def classifier_page(inputs, **extra) -> str:
    return classifier.render(inputs["y"], inputs["proba"], inputs["threshold"], inputs["labels"], inputs["metrics"],
                             importances=inputs["importances"], **extra)


def test_classifier_report_has_every_plot_and_is_deterministic(classifier_inputs):
    page = classifier_page(classifier_inputs)
    assert set(plots_in(page)) == CLASSIFIER_PLOTS
    assert_self_contained(page)
    assert page == classifier_page(classifier_inputs)
    auc = classifier_inputs["metrics"]["binary_classification_metrics"]["auc"]["value"]
    assert f"AUC {auc:.3f}" in page  # the curve's legend agrees with evaluation.json


def test_ranking_metrics_agree_with_scikit_learn(classifier_inputs):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, proba = classifier_inputs["y"], classifier_inputs["proba"]
    for scores in (proba, np.round(proba, 2)):  # with and without ties
        auc, ap = classifier.ranking_metrics(y, scores)
        assert auc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert ap == pytest.approx(average_precision_score(y, scores), abs=1e-12)


def test_bootstrap_intervals_contain_the_point_value(classifier_inputs):
    y, proba, threshold = classifier_inputs["y"], classifier_inputs["proba"], classifier_inputs["threshold"]
    values = classifier.point_metrics(y, proba, threshold)
    intervals = classifier.bootstrap_intervals(y, proba, threshold, samples=100)
    for name in ("auc", "average_precision", "recall", "precision", "log_loss"):
        low, high = intervals[name]
        assert low <= values[name] <= high and high - low > 0, name
    assert 0.01 < intervals["auc"][1] - intervals["auc"][0] < 0.3  # 1,479 rows: a real but bounded width


def test_champion_side_by_side(classifier_inputs):
    champion = {"name": "champion v1", "proba": classifier_inputs["champion_proba"], "threshold": 0.2}
    page = classifier_page(classifier_inputs, champion=champion)
    assert set(plots_in(page)) == CLASSIFIER_PLOTS | {"confusion_champion v1", "comparison"}
    assert page.count("champion v1 (AUC") == 1
    recorded = {"name": "champion v0", "metrics": {"binary_classification_metrics": {"auc": {"value": 0.7123}}}}
    page = classifier_page(classifier_inputs, champion=recorded)
    assert "not re-scored" in page and "0.7123" in page
    assert set(plots_in(page)) == CLASSIFIER_PLOTS


def test_drift_table_in_the_report(classifier_inputs, lending_club):
    sch, train, test = classifier_inputs["schema"], classifier_inputs["train"], classifier_inputs["test"]
    features = list(sch.features)
    stats = baseline.statistics(train[features])
    result = drift.check(test[features].assign(annual_inc=test["annual_inc"] * 2), stats,
                         baseline.constraints(train[features], stats=stats))
    page = classifier_page(classifier_inputs, drift=result.table)
    assert "Data drift against the training baseline" in page
    assert re.search(r'<tr class="flagged"><td class="l">annual_inc</td>', page)


def test_text_is_escaped():
    page = svg.page("<b>x</b>", [svg.bar_chart("b", 'a "quoted" <title>', ["<script>alert(1)</script>"], [("g", [1.0])])])
    assert "<script>" not in page and "&lt;script&gt;" in page and "&quot;quoted&quot;" in page


def test_nice_ticks_cover_the_range():
    assert svg.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = svg.nice_ticks(3.7, 1234.5)
    assert ticks[0] >= 3.7 and ticks[-1] <= 1234.5 and len(ticks) >= 3


def test_forecast_report_best_median_worst(forecast_inputs):
    actuals, forecasts, metrics, baseline_metrics = forecast_inputs
    page = forecast.render(actuals, forecasts, metrics, baseline_metrics)
    assert plots_in(page) == ["series_best", "series_median", "series_worst", "error_distribution"]
    ranked = metrics.sort_values("mase")["series"].tolist()
    assert f"best: {ranked[0]}" in page and f"worst: {ranked[-1]}" in page
    assert f"median: {ranked[(len(ranked) - 1) // 2]}" in page
    assert_self_contained(page)
    assert page == forecast.render(actuals, forecasts, metrics, baseline_metrics)
    assert forecast.render(actuals, forecasts, metrics.iloc[:1], baseline_metrics).count('class="plot"') == 2


def test_forecast_report_names_missing_columns(forecast_inputs):
    actuals, forecasts, metrics, baseline_metrics = forecast_inputs
    with pytest.raises(DataError, match=r"forecasts has no column\(s\) \['mean'\]"):
        forecast.render(actuals, forecasts.drop(columns="mean"), metrics, baseline_metrics)
