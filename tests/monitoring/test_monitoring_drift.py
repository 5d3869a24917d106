"""Drift checks on lending_club with injected shifts, and Model Monitor's file formats."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest

from common.errors import ConfigError, DataError
from monitoring import baseline, drift

CHECK_TYPES = {"data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check"}


def flagged(result, check_type):
    return {v["feature_name"] for v in result.violations if v["constraint_check_type"] == check_type}


def test_statistics_follow_the_model_monitor_schema(lending_baseline, lending_features):
    stats, constraints, _ = lending_baseline
    assert stats["version"] == 0.0 and stats["dataset"]["item_count"] == int(0.7 * len(lending_features))
    by_name = {f["name"]: f for f in stats["features"]}
    assert list(by_name) == list(lending_features.columns)
    funded = by_name["funded_amnt"]
    assert funded["inferred_type"] == "Integral"
    numerical = funded["numerical_statistics"]
    assert set(numerical) >= {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    buckets = numerical["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10 and sum(b["count"] for b in buckets) == numerical["common"]["num_present"]
    assert buckets[0]["lower_bound"] == numerical["min"] and buckets[-1]["upper_bound"] == numerical["max"]
    sketch = numerical["distribution"]["kll"]["sketch"]
    assert set(sketch["parameters"]) == {"c", "k"} and sketch["data"][0] == sorted(sketch["data"][0])
    assert by_name["int_rate"]["inferred_type"] == "Fractional"
    term = by_name["term"]
    assert term["inferred_type"] == "String"
    counts = {b["value"]: b["count"] for b in term["string_statistics"]["distribution"]["categorical"]["buckets"]}
    assert set(counts) == {"term_36", "term_60"} and sum(counts.values()) == stats["dataset"]["item_count"]
    json.dumps(stats, allow_nan=False)  # what write_json demands


def test_constraints_follow_the_model_monitor_schema(lending_baseline):
    _, constraints, _ = lending_baseline
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["funded_amnt"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["term"]["string_constraints"]["domains"] == ["term_36", "term_60"]
    assert all(0 <= f["completeness"] <= 1 for f in constraints["features"])
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled" and "datatype_check_threshold" in config
    assert config["distribution_constraints"]["perform_comparison"] == "Enabled"
    json.dumps(constraints, allow_nan=False)


def test_unshifted_data_raises_no_alarm(lending_baseline):
    stats, constraints, new = lending_baseline
    result = drift.check(new, stats, constraints)
    assert result.violations == []
    assert (result.table["status"] == "ok").all()
    assert result.table["psi"].max() < 0.05


def test_scaled_feature_drifts_alone(lending_baseline):
    stats, constraints, new = lending_baseline
    shifted = new.assign(annual_inc=new["annual_inc"] * 1.5)
    result = drift.check(shifted, stats, constraints)
    assert flagged(result, "baseline_drift_check") == {"annual_inc"}
    row = result.table.set_index("feature").loc["annual_inc"]
    assert row["status"] == "flagged" and row["psi"] > 0.2 and row["js"] > 0.1


def test_new_category_is_a_categorical_values_violation(lending_baseline):
    stats, constraints, new = lending_baseline
    shifted = new.copy()
    shifted.loc[shifted.index[::10], "term"] = "term_48"
    result = drift.check(shifted, stats, constraints)
    assert flagged(result, "categorical_values_check") == {"term"}
    description = next(v["description"] for v in result.violations if v["constraint_check_type"] == "categorical_values_check")
    assert "'term_48'" in description


def test_missing_values_appearing_fail_completeness(lending_baseline):
    stats, constraints, new = lending_baseline
    shifted = new.copy()
    shifted.loc[shifted.index[::20], "revol_util"] = np.nan  # 5% missing where the baseline had none
    result = drift.check(shifted, stats, constraints)
    assert flagged(result, "completeness_check") == {"revol_util"}


def test_type_change_fails_the_type_check(lending_baseline):
    stats, constraints, new = lending_baseline
    shifted = new.astype({"int_rate": object})
    shifted.loc[shifted.index[::3], "int_rate"] = shifted.loc[shifted.index[::3], "int_rate"].map(lambda v: f"{v}%")
    result = drift.check(shifted, stats, constraints)
    assert "int_rate" in flagged(result, "data_type_check")
    # integral becoming fractional is a type change too
    result = drift.check(new.assign(funded_amnt=new["funded_amnt"] + 0.5), stats, constraints)
    assert "funded_amnt" in flagged(result, "data_type_check")


def test_negative_values_break_non_negativity(lending_baseline):
    stats, constraints, new = lending_baseline
    result = drift.check(new.assign(delinq_2yrs=-new["delinq_2yrs"] - 1), stats, constraints)
    assert "delinq_2yrs" in flagged(result, "data_type_check")


def test_missing_and_extra_columns(lending_baseline):
    stats, constraints, new = lending_baseline
    result = drift.check(new.drop(columns=["term"]).assign(surprise=1), stats, constraints)
    assert flagged(result, "missing_column_check") == {"term"}
    assert flagged(result, "extra_column_check") == {"surprise"}
    assert {v["constraint_check_type"] for v in result.violations} <= CHECK_TYPES
    assert all(set(v) == {"feature_name", "constraint_check_type", "description"} for v in result.violations)


def test_thresholds_come_from_constraints_unless_given(lending_baseline):
    stats, constraints, new = lending_baseline
    shifted = new.copy()
    shifted.loc[shifted.index[:3], "addr_state"] = "ZZ"  # 0.1% outside the domain
    assert flagged(drift.check(shifted, stats, constraints), "categorical_values_check") == set()
    strict = drift.Thresholds(domain_content=1.0)
    assert flagged(drift.check(shifted, stats, constraints, strict), "categorical_values_check") == {"addr_state"}
    edited = json.loads(json.dumps(constraints))
    edited["monitoring_config"]["domain_content_threshold"] = 1.0
    assert flagged(drift.check(shifted, stats, edited), "categorical_values_check") == {"addr_state"}


def test_comparison_can_be_disabled_per_feature(lending_baseline):
    stats, constraints, new = lending_baseline
    edited = json.loads(json.dumps(constraints))
    for feature in edited["features"]:
        if feature["name"] == "annual_inc":
            feature["monitoringConfigOverrides"] = {"distribution_constraints": {"perform_comparison": "Disabled"}}
    result = drift.check(new.assign(annual_inc=new["annual_inc"] * 3), stats, edited)
    assert flagged(result, "baseline_drift_check") == set()


def test_small_batches_do_not_alarm_on_noise(lending_baseline):
    """The noise floor grows as batches shrink: 200 unchanged rows stay quiet, a real shift still shows."""
    stats, constraints, new = lending_baseline
    small = new.head(200)
    assert drift.check(small, stats, constraints).violations == []
    assert flagged(drift.check(small.assign(annual_inc=small["annual_inc"] * 2), stats, constraints),
                   "baseline_drift_check") == {"annual_inc"}


def test_roles_must_name_real_columns_and_known_roles(lending_features):
    with pytest.raises(ConfigError, match="nonexistent"):
        baseline.statistics(lending_features, {"nonexistent": "numeric"})
    with pytest.raises(ConfigError, match="'term'.*'image'"):
        baseline.statistics(lending_features, {"term": "image"})


def _texts(rng, words, n):
    return [" ".join(rng.choice(words, size=rng.integers(3, 12))) for _ in range(n)]


def test_text_and_datetime_roles():
    rng = np.random.default_rng(0)
    words = np.array(["server", "disk", "full", "latency", "high", "restart", "ok", "memory", "cpu", "network"])
    n = 2000
    frame = pd.DataFrame({
        "note": _texts(rng, words, n),
        "opened": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")).astype(str),
        "load": rng.normal(50, 10, n),
    })
    roles = {"note": "text", "opened": "datetime"}
    stats = baseline.statistics(frame, roles)
    by_name = {f["name"]: f for f in stats["features"]}
    text = by_name["note"]["text_statistics"]
    assert text["vocabulary_size"] == len(words) and text["length"]["common"]["num_present"] == n
    assert by_name["note"]["string_statistics"]["distribution"] == {}
    dates = by_name["opened"]["datetime_statistics"]
    assert dates["min"].startswith("2024-01-01") and dates["max"].startswith("2024-12-")
    assert abs(sum(dates["day_of_week_shares"]) - 1) < 1e-6
    constraints = baseline.constraints(frame, roles, stats)
    json.dumps(stats, allow_nan=False)

    fresh = pd.DataFrame({
        "note": _texts(rng, words, 500),
        "opened": (pd.Timestamp("2025-01-06") + pd.to_timedelta(rng.integers(0, 28 * 24, 500), unit="h")).astype(str),
        "load": rng.normal(50, 10, 500),
    })
    result = drift.check(fresh, stats, constraints)
    assert result.violations == [], result.violations
    detail = result.table.set_index("feature").loc["opened", "detail"]
    assert "2025-01-06" in detail and "days from the baseline's newest" in detail

    emoji = np.array(["\U0001F525", "\U0001F680", "broken", "urgent", "asap"])
    shifted = fresh.assign(note=_texts(rng, emoji, 500))
    assert flagged(drift.check(shifted, stats, constraints), "baseline_drift_check") == {"note"}
    garbled = fresh.assign(opened=["not a date"] * 250 + fresh["opened"].tolist()[250:])
    assert flagged(drift.check(garbled, stats, constraints), "data_type_check") == {"opened"}


def _capture(data: str, content_type: str, encoding: str) -> str:
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": '{"predictions": [{"probability": 0.1, "label": "good"}]}', "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "e1", "inferenceTime": "2024-05-01T10:00:00Z"},
        "eventVersion": "0",
    })


def test_read_capture_decodes_csv_json_and_base64(lending_baseline):
    stats, constraints, new = lending_baseline
    columns = [f["name"] for f in stats["features"]]
    rows = new.head(30)
    csv_rows = rows.to_csv(index=False, header=False).strip().splitlines()
    lines = [_capture("\n".join(csv_rows[:10]), "text/csv", "CSV"),
             _capture(",".join(columns) + "\n" + "\n".join(csv_rows[10:15]), "text/csv; charset=utf-8", "BASE64"),
             "",
             _capture(json.dumps(json.loads(rows.iloc[15:25].to_json(orient="records"))), "application/json", "JSON"),
             _capture(json.dumps({"instances": rows.iloc[25:30].values.tolist()}), "application/json", "BASE64")]
    frame = drift.read_capture(lines, columns)
    assert list(frame.columns) == columns and len(frame) == 30
    pd.testing.assert_series_equal(frame["funded_amnt"].astype(float), rows["funded_amnt"].astype(float),
                                   check_names=False, check_index=False)
    assert frame["addr_state"].tolist() == rows["addr_state"].tolist()
    result = drift.check(frame, stats, constraints)  # 30 rows: below min_rows, distances shown, not judged
    assert result.violations == [] and "drift not judged" in result.table.set_index("feature").loc["annual_inc", "detail"]


def test_read_capture_errors_name_the_line():
    with pytest.raises(DataError, match="capture line 2: not JSON"):
        drift.read_capture([_capture("1,2", "text/csv", "CSV"), "{oops"], ["a", "b"])
    with pytest.raises(DataError, match="capture line 1: no captureData"):
        drift.read_capture(['{"eventVersion": "0"}'], ["a", "b"])
    with pytest.raises(DataError, match="capture line 1: endpointInput.data is not base64"):
        drift.read_capture([_capture("1,2", "text/csv", "CSV").replace('"CSV"', '"BASE64"', 1)], ["a", "b"])


def test_read_capture_takes_a_payload_by_its_own_header():
    """The server accepts CSV with a header in any column order (and id columns beside): so does the reader."""
    def capture(text: str) -> str:
        return json.dumps({"captureData": {"endpointInput": {"data": text, "encoding": "CSV",
                                                             "observedContentType": "text/csv"}}})

    lines = [capture("1.5,x\n2.5,y\n"), capture("id,b,a\n7,z,3.5\n"), capture("4.5,w\n")]
    frame = drift.read_capture(lines, ["a", "b"])
    assert frame["a"].tolist() == [1.5, 2.5, 3.5, 4.5] and frame["b"].tolist() == ["x", "y", "z", "w"]
    assert frame["id"].iloc[2] == 7 and frame["id"].isna().sum() == 3  # kept, so the check reports it as extra
    with pytest.raises(DataError, match="capture line 1: CSV rows do not match their header"):
        drift.read_capture([capture("a,b\n1,2,3,4\n")], ["a", "b"])
