"""The seasonal period: candidates implied by the frequency, the choice confirmed by the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.errors import ConfigError

MIN_CYCLES = 3  # a period needs this many cycles of history before the data can vouch for it


def candidates(freq: str) -> list[int]:
    """Periods worth trying for a pandas frequency string, most usual first (1 = no season)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.rule_code.split("-")[0].upper()
    if name in {"MS", "ME", "M", "BMS", "BME"}:
        return [12]
    if name in {"QS", "QE", "Q", "BQS", "BQE"}:
        return [4]
    if name in {"YS", "YE", "Y", "A", "AS"}:
        return [1]
    if name == "W":
        return [52]
    if name in {"D", "B"}:
        return [7] if name == "D" else [5]
    try:
        step = pd.Timedelta(offset)
    except (ValueError, TypeError):
        raise ConfigError(f"frequency '{freq}' has no known seasonal period; pass the period explicitly") from None
    day, week = pd.Timedelta(days=1), pd.Timedelta(days=7)
    if day % step == pd.Timedelta(0):
        return [int(day / step), int(week / step)]
    return [1]


def autocorrelation(matrix: np.ndarray, lag: int) -> float:
    """Median over series of the lag-`lag` autocorrelation (missing points skipped)."""
    if lag >= matrix.shape[1] - 2:
        return float("nan")
    centred = matrix - np.nanmean(matrix, axis=1, keepdims=True)
    a, b = centred[:, lag:], centred[:, :-lag]
    both = ~np.isnan(a) & ~np.isnan(b)
    with np.errstate(all="ignore"):
        cov = np.where(both, a * b, 0).sum(axis=1)
        var = np.sqrt(np.where(both, a * a, 0).sum(axis=1) * np.where(both, b * b, 0).sum(axis=1))
        values = cov / var
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def choose(matrix: np.ndarray, freq: str) -> tuple[int, dict]:
    """The period to model and the evidence: the first candidate, unless a later one with enough
    history shows clearly stronger autocorrelation (e.g. a weekly cycle over a daily one)."""
    options = candidates(freq)
    lengths = np.sum(~np.isnan(matrix), axis=1)
    history = int(np.median(lengths)) if len(lengths) else 0
    evidence = {}
    chosen = options[0]
    for period in options:
        if period > 1 and history >= MIN_CYCLES * period:
            evidence[period] = round(autocorrelation(matrix, period), 4)
    if evidence:
        best = max(evidence, key=lambda p: evidence[p])
        if evidence[best] > evidence.get(chosen, -1.0) + 0.1:
            chosen = best
    if chosen > 1 and history < 2 * chosen:
        chosen = 1
    return chosen, {"candidates": options, "autocorrelation": {str(k): v for k, v in evidence.items()},
                    "median_points": history, "chosen": chosen}
