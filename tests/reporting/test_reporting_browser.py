"""The reports in a real headless browser: every plot rendered, no console errors, a screenshot to look at.

Skips without Chromium (Debian: `apt-get install -y chromium`), fails instead when CI=true.
Set REPORT_SCREENSHOTS=<dir> to keep the screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import reporting_browser
from reporting import classifier, forecast

CHROMIUM = reporting_browser.find_chromium()



@pytest.fixture(autouse=True)
def _chromium_or_skip():
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium to render the reports: apt-get install -y chromium")
        pytest.skip("no chromium (apt-get install -y chromium)")


def _open(page_html: str, tmp_path: Path, name: str) -> reporting_browser.Rendered:
    page = tmp_path / f"{name}.html"
    page.write_text(page_html, encoding="utf-8")
    rendered = reporting_browser.render(page, CHROMIUM)
    keep = os.environ.get("REPORT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}.png").write_bytes(rendered.screenshot)
        (Path(keep) / f"{name}.html").write_text(page_html, encoding="utf-8")
    return rendered


def _assert_rendered(rendered: reporting_browser.Rendered, expected: set[str]) -> None:
    assert rendered.errors == []
    assert {p["name"] for p in rendered.plots} == expected
    for plot in rendered.plots:
        assert plot["width"] > 200 and plot["height"] > 150, plot
        assert plot["painted"] >= 3, plot  # more than the background and frame: the data was drawn
    assert rendered.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(rendered.screenshot) > 20_000


def test_classifier_report_renders_in_chromium(classifier_inputs, tmp_path):
    champion = {"name": "champion", "proba": classifier_inputs["champion_proba"], "threshold": 0.2}
    page = classifier.render(classifier_inputs["y"], classifier_inputs["proba"], classifier_inputs["threshold"],
                             classifier_inputs["labels"], classifier_inputs["metrics"],
                             importances=classifier_inputs["importances"], champion=champion)
    rendered = _open(page, tmp_path, "classifier_report")
    assert rendered.title == "Evaluation report: classifier"
    _assert_rendered(rendered, {"roc", "precision_recall", "calibration", "confusion_challenger",
                                "confusion_champion", "comparison", "importances"})


def test_forecast_report_renders_in_chromium(forecast_inputs, tmp_path):
    rendered = _open(forecast.render(*forecast_inputs), tmp_path, "forecast_report")
    _assert_rendered(rendered, {"series_best", "series_median", "series_worst", "error_distribution"})


def test_drift_report_renders_in_chromium(lending_club, tmp_path):
    from monitoring import baseline, drift
    from reporting import drift as drift_report

    features = lending_club.drop(columns=["rownames", "Class"])
    train, new = features.iloc[:7000], features.iloc[7000:].copy()
    new["annual_inc"] = new["annual_inc"] * 2
    new.loc[new.index[::10], "term"] = "term_48"
    stats = baseline.statistics(train)
    result = drift.check(new, stats, baseline.constraints(train, stats=stats))
    page = drift_report.render(result.table, result.violations, stats, new)
    rendered = _open(page, tmp_path, "drift_report")
    _assert_rendered(rendered, {"feature_annual_inc", "feature_term"})
