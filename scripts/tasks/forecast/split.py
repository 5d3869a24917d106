"""The time-based split: per series, the last H points are the test window, the H before them validation."""

from __future__ import annotations

import pandas as pd

from common.errors import DataError

MIN_TRAIN_POINTS = 4


def split(long: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, validation, test) long frames; windows count grid points (missing values included).

    A series without room for both windows and some training history is an error naming it:
    clean with `min_length_for(horizon, season)` to drop such series beforehand.
    """
    if horizon < 1:
        raise DataError(f"horizon must be at least 1, got {horizon}")
    frame = long.sort_values(["series", "timestamp"], kind="stable").reset_index(drop=True)
    from_end = frame.groupby("series", sort=False).cumcount(ascending=False)
    sizes = frame.groupby("series", sort=True).size()
    short = sizes[sizes < 2 * horizon + MIN_TRAIN_POINTS]
    if len(short):
        named = ", ".join(f"'{s}' ({n} points)" for s, n in short.head(5).items())
        raise DataError(
            f"{len(short)} series too short for a horizon of {horizon} (need {2 * horizon + MIN_TRAIN_POINTS} "
            f"points): {named}{' ...' if len(short) > 5 else ''}; raise min_length when cleaning"
        )
    test = frame[from_end < horizon]
    validation = frame[(from_end >= horizon) & (from_end < 2 * horizon)]
    train = frame[from_end >= 2 * horizon]
    return (train.reset_index(drop=True), validation.reset_index(drop=True), test.reset_index(drop=True))
