"""The time-based split: last H points test, the H before validation, per series."""

from __future__ import annotations

import pandas as pd
import pytest

from common.errors import DataError
from tasks.forecast.split import split


def long_frame(lengths: dict[str, int]) -> pd.DataFrame:
    parts = [pd.DataFrame({"series": s, "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
                           "value": range(n)}) for s, n in lengths.items()]
    return pd.concat(parts).sample(frac=1, random_state=0)  # order must not matter


def test_windows_are_the_last_points_of_each_series_in_time_order():
    train, validation, test = split(long_frame({"a": 30, "b": 20}), horizon=5)
    for frame, size in ((validation, 5), (test, 5)):
        assert frame.groupby("series").size().eq(size).all()
    assert train.groupby("series").size().to_dict() == {"a": 20, "b": 10}
    for sid in ("a", "b"):
        assert train[train.series == sid].timestamp.max() < validation[validation.series == sid].timestamp.min()
        assert validation[validation.series == sid].timestamp.max() < test[test.series == sid].timestamp.min()
    assert list(test[test.series == "a"]["value"]) == [25, 26, 27, 28, 29]


def test_a_series_too_short_for_the_windows_is_named():
    with pytest.raises(DataError, match=r"'b' \(8 points\)"):
        split(long_frame({"a": 30, "b": 8}), horizon=3)
