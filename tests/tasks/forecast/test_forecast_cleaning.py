"""Cleaning: a regular grid per series, short gaps filled, long ones left, every decision reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from tasks.forecast import cleaning


def hourly(series: str, values, start="2024-01-01") -> pd.DataFrame:
    stamps = pd.date_range(start, periods=len(values), freq="h")
    return pd.DataFrame({"series": series, "timestamp": stamps, "value": values})


def test_short_gaps_are_interpolated_and_long_gaps_left_missing():
    values = np.arange(40, dtype=float)
    frame = hourly("a", values)
    frame = frame.drop(index=[5, 6])  # a 2-point gap: rows absent
    frame.loc[20:24, "value"] = np.nan  # a 5-point gap: values blank
    out, report = cleaning.clean(frame, max_gap=3, min_length=10)
    assert len(out) == 40 and out["timestamp"].diff().dropna().eq(pd.Timedelta("1h")).all()
    np.testing.assert_allclose(out["value"].iloc[5:7], [5.0, 6.0])  # linear between 4 and 7
    assert out["value"].iloc[20:25].isna().all()
    entry = report["series"]["a"]
    assert entry["decision"] == "kept"
    assert (entry["filled"], entry["gaps_filled"], entry["long_gaps"], entry["left_missing"]) == (2, 1, 1, 5)
    assert report["freq"] == "h" and report["freq_inferred"]
    assert report["totals"]["points_filled"] == 2 and report["totals"]["points_left_missing"] == 5


def test_leading_missing_values_are_trimmed_duplicates_averaged_and_short_series_dropped():
    late = hourly("late", [np.nan] * 10 + list(range(30)))
    dup = hourly("dup", list(range(30)))
    dup = pd.concat([dup, dup.iloc[[3]].assign(value=13.0)])  # (dup, 03:00) twice: 3 and 13
    short = hourly("short", list(range(5)))
    out, report = cleaning.clean(pd.concat([late, dup, short]), min_length=20)
    assert report["series"]["late"]["trimmed_missing_ends"] == 10
    assert out[out.series == "late"]["timestamp"].min() == pd.Timestamp("2024-01-01 10:00")
    assert out[(out.series == "dup") & (out.timestamp == pd.Timestamp("2024-01-01 03:00"))]["value"].item() == 8.0
    assert report["series"]["dup"]["duplicates_averaged"] == 1
    assert report["series"]["short"]["decision"] == "dropped"
    assert "too short" in report["series"]["short"]["reason"]
    assert set(out.series) == {"late", "dup"}
    assert report["totals"]["dropped_by_reason"] == {"too short": 1}


def test_without_a_series_column_the_file_is_one_series_and_constant_is_flagged():
    frame = hourly("x", [5.0] * 30).drop(columns="series")
    out, report = cleaning.clean(frame, min_length=10)
    assert report["single_series"] and set(out.series) == {cleaning.SINGLE_SERIES_ID}
    assert report["series"][cleaning.SINGLE_SERIES_ID]["constant"]


def test_monthly_text_dates_infer_month_start_frequency():
    frame = pd.DataFrame({"Month": ["1939 Jan", "1939 Feb", "1939 Apr", "1939 May"] * 1,
                          "id": "s", "v": ["1", "2", "NA", "4"]})
    out, report = cleaning.clean(frame, series="id", time="Month", value="v", min_length=2)
    assert report["freq"] == "MS"
    assert list(out["timestamp"].dt.month) == [1, 2, 3, 4, 5]
    assert out["value"].isna().sum() == 0  # Mar (absent) and Apr (NA) filled between 2 and 4
    np.testing.assert_allclose(out["value"], [1, 2, 8 / 3, 10 / 3, 4])


@pytest.mark.parametrize(
    "column, bad, message",
    [("timestamp", "not a date", "column 'timestamp' row 3"), ("value", "lots", "column 'value' row 3")],
)
def test_unparseable_cells_name_column_and_row(column, bad, message):
    frame = hourly("a", list(range(10))).astype({column: object})
    frame.loc[2, column] = bad
    with pytest.raises(DataError, match=message):
        cleaning.clean(frame, min_length=2)


def test_missing_column_and_off_grid_timestamp_are_errors_naming_them():
    with pytest.raises(DataError, match="value column 'load' not found"):
        cleaning.clean(hourly("a", [1.0] * 10), value="load")
    frame = hourly("srv-7", list(range(10)))
    frame.loc[4, "timestamp"] += pd.Timedelta(minutes=7)
    with pytest.raises(DataError, match="series 'srv-7': timestamp 2024-01-01 04:07:00 is not on the h grid"):
        cleaning.clean(frame, freq="h", min_length=2)


def test_synthetic_servers_clean_to_one_grid(tmp_path):
    from tasks.forecast import synthetic

    raw = synthetic.generate(60, days=10, seed=3)
    assert raw.equals(synthetic.generate(60, days=10, seed=3))
    out, report = cleaning.clean(raw)
    assert report["freq"] == "h"
    assert report["totals"]["points_filled"] > 0 and report["totals"]["constant_series"] >= 1
    assert out.groupby("series").size().max() == 240
