"""Cleaning long-format series: a regular grid per series, short gaps filled, every decision reported.

Rules, in order (each one counted per series in the report):
- timestamps are parsed (time zones converted to UTC); a value that is not a time is an error
  naming its row; rows without a timestamp are dropped;
- values are parsed as numbers; text that is not a number is an error naming its row; blanks,
  NaN and infinities are missing;
- rows repeating a (series, timestamp) are averaged into one;
- each series runs from its first to its last observed value (missing values before and after
  are trimmed: series that start late are normal) on a grid of the frequency; a timestamp off
  the grid is an error naming the series;
- gaps of at most `max_gap` points are filled by linear interpolation between their neighbours;
  longer gaps stay missing (rows with an empty value), and the models step over them;
- series with fewer than `min_length` observed points, or none, are dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.errors import DataError

from . import seasonality

SINGLE_SERIES_ID = "series"
DEFAULT_MAX_GAP = 3
CALENDAR_FREQS = {(28, 31): "M", (89, 92): "Q", (365, 366): "Y"}


def min_length_for(horizon: int, season: int) -> int:
    """Observed points a series needs for a test and a validation window and two seasons of training."""
    return 2 * horizon + 2 * max(season, 1) + 2


def _parse_times(values: pd.Series, column: str) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", utc=False, format="mixed") if values.dtype == object \
        or pd.api.types.is_string_dtype(values) else pd.to_datetime(values, errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(f"column '{column}' row {row + 1}: {values.iloc[row]!r} is not a timestamp")
    return parsed.astype("datetime64[ns]")


def _parse_values(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.astype("float64")
    else:
        text = values.astype("string").str.strip()
        blank = text.isna() | text.str.upper().isin(["", "NA", "NAN", "NULL", "NONE", "N/A"])
        parsed = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
        bad = parsed.isna() & ~blank
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataError(f"column '{column}' row {row + 1}: {values.iloc[row]!r} is not a number")
    return parsed.where(np.isfinite(parsed))


def infer_freq(frame: pd.DataFrame) -> str:
    """The grid step: the most common gap between consecutive timestamps of a series, read as a
    calendar frequency (month, quarter, year; start or end anchored) where it is one."""
    gaps = frame.groupby("series", sort=False)["timestamp"].diff().dropna()
    gaps = gaps[gaps > pd.Timedelta(0)]
    if gaps.empty:
        raise DataError("cannot infer the frequency: no series has two distinct timestamps; pass freq")
    step = gaps.mode().iloc[0]
    days = step / pd.Timedelta(days=1)
    stamps = frame["timestamp"]
    for (low, high), base in CALENDAR_FREQS.items():
        if low <= days <= high:
            if (stamps.dt.day == 1).all() and (stamps.dt.normalize() == stamps).all():
                return f"{base}S"
            if stamps.dt.is_month_end.all():
                return f"{base}E"
            raise DataError(f"timestamps about {days:.0f} days apart are neither month starts nor month ends; pass freq")
    if days == 7:
        return f"W-{stamps.iloc[0].day_name()[:3].upper()}"
    return pd.tseries.frequencies.to_offset(step).freqstr


def _grid_positions(stamps: np.ndarray, freq: str, series: str) -> np.ndarray:
    """Index of each (sorted) timestamp on the grid that starts at the first one."""
    first = pd.Timestamp(stamps[0])
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        step = None
    if step is not None:
        offsets = (stamps - stamps[0]).astype("timedelta64[ns]").astype(np.int64)
        positions, remainder = np.divmod(offsets, step.value)
        off = remainder != 0
    else:
        grid = pd.date_range(first, pd.Timestamp(stamps[-1]), freq=freq).to_numpy()
        positions = np.searchsorted(grid, stamps)
        off = (positions >= len(grid)) | (grid[np.minimum(positions, len(grid) - 1)] != stamps)
    if off.any():
        raise DataError(f"series '{series}': timestamp {pd.Timestamp(stamps[np.argmax(off)])} is not on the "
                        f"{freq} grid that starts at {first}; pass freq or resample the data")
    return positions.astype(np.int64)


def _gap_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    padded = np.concatenate([[False], missing, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(changes[::2], changes[1::2])]


def _clean_one(sid: str, stamps: np.ndarray, values: np.ndarray, freq: str, max_gap: int, min_length: int):
    entry: dict[str, Any] = {"rows": int(len(stamps))}
    observed = ~np.isnan(values)
    if not observed.any():
        entry.update(decision="dropped", reason="no values")
        return None, entry
    first, last = np.argmax(observed), len(observed) - 1 - np.argmax(observed[::-1])
    entry["trimmed_missing_ends"] = int(first + (len(values) - 1 - last))
    stamps, values = stamps[first : last + 1], values[first : last + 1]
    positions = _grid_positions(stamps, freq, sid)
    grid_values = np.full(positions[-1] + 1, np.nan)
    grid_values[positions] = values
    n_observed = int((~np.isnan(grid_values)).sum())
    entry.update(start=str(pd.Timestamp(stamps[0])), end=str(pd.Timestamp(stamps[-1])), points=len(grid_values))
    filled = gaps_filled = long_gaps = left_missing = longest = 0
    for begin, length in _gap_runs(np.isnan(grid_values)):
        longest = max(longest, length)
        if length <= max_gap:
            left, right = grid_values[begin - 1], grid_values[begin + length]
            grid_values[begin : begin + length] = left + (right - left) * np.arange(1, length + 1) / (length + 1)
            filled, gaps_filled = filled + length, gaps_filled + 1
        else:
            long_gaps, left_missing = long_gaps + 1, left_missing + length
    entry.update(observed=n_observed, filled=filled, gaps_filled=gaps_filled, long_gaps=long_gaps,
                 left_missing=left_missing, longest_gap=longest)
    if n_observed < min_length:
        entry.update(decision="dropped", reason=f"too short: {n_observed} observed points < min_length {min_length}")
        return None, entry
    entry["constant"] = bool(np.nanmax(grid_values) == np.nanmin(grid_values))
    entry.update(decision="kept", reason=None)
    times = pd.date_range(pd.Timestamp(stamps[0]), periods=len(grid_values), freq=freq)
    return pd.DataFrame({"series": sid, "timestamp": times, "value": grid_values}), entry


def clean(
    df: pd.DataFrame,
    series: str | None = "series",
    time: str = "timestamp",
    value: str = "value",
    freq: str | None = None,
    max_gap: int = DEFAULT_MAX_GAP,
    min_length: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(series, timestamp, value) rows on a regular grid per series, and the report of decisions.

    Without a `series` column the data is one series, named "series". `min_length` defaults to
    four cycles of the frequency's usual season; steps should pass `min_length_for(horizon, season)`.
    """
    for role, column in (("time", time), ("value", value)):
        if column not in df.columns:
            raise DataError(f"{role} column '{column}' not found; columns are {list(df.columns)}")
    single = series is None or series not in df.columns
    frame = pd.DataFrame({
        "series": SINGLE_SERIES_ID if single else df[series].astype("string").str.strip().astype(object),
        "timestamp": _parse_times(df[time], time),
        "value": _parse_values(df[value], value),
    })
    if not single and frame["series"].isna().any():
        row = int(np.argmax(frame["series"].isna().to_numpy()))
        raise DataError(f"column '{series}' row {row + 1}: the series id is missing")
    rows_in = len(frame)
    no_time = frame["timestamp"].isna()
    frame = frame[~no_time]
    if frame.empty:
        raise DataError(f"column '{time}': no row has a timestamp")
    duplicates = frame.duplicated(["series", "timestamp"], keep=False)
    duplicate_counts = frame[duplicates].groupby("series").size() - frame[duplicates].groupby("series")[
        "timestamp"].nunique() if duplicates.any() else pd.Series(dtype=int)
    frame = frame.groupby(["series", "timestamp"], sort=True, as_index=False)["value"].mean()
    inferred = freq is None
    if inferred:
        freq = infer_freq(frame.dropna(subset=["value"]))
    if min_length is None:
        min_length = 4 * max(seasonality.candidates(freq)[0], 1)

    kept, report_series = [], {}
    for sid, group in frame.groupby("series", sort=True):
        cleaned, entry = _clean_one(str(sid), group["timestamp"].to_numpy(), group["value"].to_numpy(dtype=float),
                                    freq, max_gap, min_length)
        entry["duplicates_averaged"] = int(duplicate_counts.get(sid, 0))
        report_series[str(sid)] = entry
        if cleaned is not None:
            kept.append(cleaned)
    if not kept:
        raise DataError(f"no series left after cleaning (min_length {min_length}); see the report's reasons")
    out = pd.concat(kept, ignore_index=True)
    dropped: dict[str, int] = {}
    for entry in report_series.values():
        if entry["decision"] == "dropped":
            key = entry["reason"].split(":")[0]
            dropped[key] = dropped.get(key, 0) + 1
    kept_entries = [e for e in report_series.values() if e["decision"] == "kept"]
    report = {
        "columns": {"series": None if single else series, "time": time, "value": value},
        "single_series": single,
        "freq": freq,
        "freq_inferred": inferred,
        "rules": {
            "duplicates": "rows repeating a (series, timestamp) are averaged",
            "gaps": f"gaps of at most {max_gap} points filled by linear interpolation; longer gaps left missing",
            "ends": "missing values before the first and after the last observation are trimmed",
            "min_length": min_length,
            "max_gap": max_gap,
        },
        "totals": {
            "rows_in": rows_in,
            "rows_without_timestamp": int(no_time.sum()),
            "series_in": len(report_series),
            "series_kept": len(kept_entries),
            "series_dropped": len(report_series) - len(kept_entries),
            "dropped_by_reason": dropped,
            "points_out": len(out),
            "points_filled": sum(e["filled"] for e in kept_entries),
            "points_left_missing": sum(e["left_missing"] for e in kept_entries),
            "series_with_long_gaps": sum(1 for e in kept_entries if e["long_gaps"]),
            "constant_series": sum(1 for e in kept_entries if e["constant"]),
            "duplicates_averaged": int(sum(e["duplicates_averaged"] for e in report_series.values())),
        },
        "series": report_series,
    }
    return out, report
