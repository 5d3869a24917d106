"""One model per series: Holt-Winters where it beats seasonal naive on validation, seasonal naive elsewhere.

fit() decides each series' method on the validation window (fit on train, forecast H, compare
the mean absolute error with seasonal naive's), then refits the chosen Holt-Winters series on
train + validation, so the final states end where the test window begins: a model that stopped
at the end of train would forecast the test window 2H steps ahead while seasonal naive, its
baseline, starts from the latest season. The refit keeps the smoothing parameters found on
train (H more points barely move them) and re-estimates the start values and states: half
the cost of a second search.

Series are processed in batches of fixed composition (sorted ids), each fitted independently,
so results do not depend on the worker count, and a run resumed from checkpointed states
ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from common.errors import DataError

from . import holt_winters

HOLT_WINTERS = "holt_winters"
SEASONAL_NAIVE = "seasonal_naive"
INTERVAL_LEVEL = 0.95
Z_95 = 1.959963984540054
DEFAULT_BATCH_SIZE = 250
PROGRESS_INTERVAL_SECONDS = 10.0

FLOAT_FIELDS = ("alpha", "beta", "gamma", "phi", "level", "trend", "sigma", "naive_sigma", "scale",
                "validation_mae", "validation_mae_naive")
MATRIX_FIELDS = ("seasonals", "naive")
TEXT_FIELDS = ("series", "method", "reason")
TIME_FIELDS = ("last_timestamp",)
FIELDS = TEXT_FIELDS + FLOAT_FIELDS + MATRIX_FIELDS + TIME_FIELDS


class ForecastRequestError(DataError):
    """A forecast request naming unknown series or a horizon beyond the trained one."""


def to_matrix(long: pd.DataFrame, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of each series in `ids` as rows, right-aligned (left-padded with NaN); and last timestamps."""
    frame = long[long["series"].isin(ids)].sort_values(["series", "timestamp"], kind="stable")
    codes = pd.Categorical(frame["series"], categories=ids).codes
    from_end = frame.groupby("series", sort=False).cumcount(ascending=False).to_numpy()
    width = int(from_end.max()) + 1 if len(frame) else 1
    matrix = np.full((len(ids), width), np.nan)
    matrix[codes, width - 1 - from_end] = frame["value"].to_numpy(dtype=float)
    last = frame.groupby("series", sort=False)["timestamp"].max().reindex(ids).to_numpy()
    return matrix, last


def seasonal_naive_state(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(last observed value at each of the next m seasonal positions, RMS and MAE of lag-m differences).

    The MAE is the MASE scale: the in-sample error of seasonal naive.
    """
    n, T = y.shape
    pad = (-T) % m
    blocks = np.pad(y, ((0, 0), (pad, 0)), constant_values=np.nan).reshape(n, -1, m)
    observed = ~np.isnan(blocks)
    last_block = blocks.shape[1] - 1 - np.argmax(observed[:, ::-1, :], axis=1)  # (n, m)
    naive = np.take_along_axis(blocks, last_block[:, None, :], axis=1)[:, 0, :]
    with np.errstate(all="ignore"):
        fallback = np.array([row[~np.isnan(row)][-1] if (~np.isnan(row)).any() else np.nan for row in y])
    naive = np.where(np.isnan(naive), fallback[:, None], naive)
    diffs = y[:, m:] - y[:, :-m] if T > m else np.full((n, 1), np.nan)
    with np.errstate(all="ignore"):
        rms = np.sqrt(np.nanmean(diffs * diffs, axis=1)) if T > m else np.full(n, np.nan)
        mae = np.nanmean(np.abs(diffs), axis=1) if T > m else np.full(n, np.nan)
    return naive, rms, mae


def _mae(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.nanmean(np.abs(actual - predicted), axis=1)


def _fit_batch(payload: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fit one batch; a module-level function so worker processes can run it."""
    ids, train, validation, last = payload["ids"], payload["train"], payload["validation"], payload["last"]
    m, horizon = payload["season"], payload["horizon"]
    n = len(ids)
    full = np.concatenate([train, validation], axis=1)
    naive_train, _, _ = seasonal_naive_state(train, m)
    naive_fc = naive_train[:, np.arange(horizon) % m]

    method = np.full(n, HOLT_WINTERS, dtype=object)
    reason = np.full(n, "", dtype=object)
    observed_train = (~np.isnan(train)).sum(axis=1)
    with np.errstate(all="ignore"):
        constant = np.nanmax(full, axis=1) == np.nanmin(full, axis=1)
    short = observed_train < 2 * m + 2
    reason[short] = f"fewer than {2 * m + 2} observed training points"
    reason[constant] = "constant series"
    method[short | constant] = SEASONAL_NAIVE

    candidates = np.flatnonzero(method == HOLT_WINTERS)
    params = np.zeros((n, 3))
    val_mae = np.full(n, np.nan)
    val_mae_naive = _mae(validation, naive_fc)
    if len(candidates):
        first = holt_winters.fit(train[candidates], m, horizon=horizon)
        mean, _ = holt_winters.forecast(first, horizon)
        val_mae[candidates] = _mae(validation[candidates], mean)
        params[candidates] = np.column_stack([first.alpha, first.beta, first.gamma])
        failed = candidates[~first.ok]
        method[failed], reason[failed] = SEASONAL_NAIVE, "fit failed (non-finite values)"
        loses = candidates[first.ok & (val_mae[candidates] > val_mae_naive[candidates])]
        method[loses] = SEASONAL_NAIVE
        reason[loses] = "loses to seasonal naive on validation"

    naive, naive_sigma, scale = seasonal_naive_state(full, m)
    states = {
        "series": np.asarray(ids, dtype=object), "method": method, "reason": reason,
        "alpha": np.zeros(n), "beta": np.zeros(n), "gamma": np.zeros(n), "phi": np.ones(n),
        "level": np.zeros(n), "trend": np.zeros(n), "seasonals": naive.copy(), "sigma": naive_sigma.copy(),
        "naive": naive, "naive_sigma": naive_sigma, "scale": scale,
        "validation_mae": val_mae, "validation_mae_naive": val_mae_naive, "last_timestamp": last,
    }
    chosen = np.flatnonzero(method == HOLT_WINTERS)
    if len(chosen):
        final = holt_winters.fit(full[chosen], m, params=params[chosen])
        good, bad = chosen[final.ok], chosen[~final.ok]
        method[bad], reason[bad] = SEASONAL_NAIVE, "refit on train + validation failed (non-finite values)"
        for field in ("alpha", "beta", "gamma", "phi", "level", "trend", "sigma", "seasonals"):
            states[field][good] = getattr(final, field)[final.ok]
    return states


def merge_states(parts: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """States of several batches (or hosts) as one, sorted by series id; a series in two parts is an error."""
    parts = [p for p in parts if len(p["series"])]
    if not parts:
        raise DataError("no series to model")
    merged = {f: np.concatenate([p[f] for p in parts]) for f in FIELDS}
    order = np.argsort(merged["series"].astype(str), kind="stable")
    merged = {f: v[order] for f, v in merged.items()}
    ids = merged["series"].astype(str)
    repeated = ids[1:][ids[1:] == ids[:-1]]
    if len(repeated):
        raise DataError(f"series '{repeated[0]}' was fitted twice (in two batches or by two hosts)")
    return merged


def empty_states() -> dict[str, np.ndarray]:
    """The states of no series: the part of a host whose share is empty."""
    return {f: np.empty((0, 1) if f in MATRIX_FIELDS else 0, dtype=object if f in TEXT_FIELDS else float) for f in FIELDS}


def _select(states: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {f: v[keep] for f, v in states.items()}


@dataclass
class ForecastModel:
    states: dict[str, np.ndarray]
    freq: str
    horizon: int
    season: int
    interval_level: float = INTERVAL_LEVEL

    @property
    def ids(self) -> list[str]:
        return [str(s) for s in self.states["series"]]

    def summary(self) -> dict[str, Any]:
        method, reason = self.states["method"], self.states["reason"]
        reasons: dict[str, int] = {}
        for r in reason[method == SEASONAL_NAIVE]:
            reasons[str(r)] = reasons.get(str(r), 0) + 1
        return {
            "series": int(len(method)),
            "holt_winters": int(np.sum(method == HOLT_WINTERS)),
            "seasonal_naive_fallbacks": int(np.sum(method == SEASONAL_NAIVE)),
            "fallbacks_by_reason": reasons,
        }

    def _rows(self, ids: Iterable[str] | None, horizon: int | None) -> tuple[np.ndarray, int]:
        horizon = self.horizon if horizon is None else int(horizon)
        if horizon < 1 or horizon > self.horizon:
            raise ForecastRequestError(f"horizon {horizon} is outside 1..{self.horizon} (the trained horizon)")
        if ids is None:
            return np.arange(len(self.states["series"])), horizon
        ids = [str(i) for i in ids]
        index = pd.Index(self.states["series"].astype(str))
        rows = index.get_indexer(ids)
        unknown = [i for i, r in zip(ids, rows) if r < 0]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:10])
            raise ForecastRequestError(f"unknown series id(s): {shown}{' ...' if len(unknown) > 10 else ''}")
        return rows, horizon

    def _frame(self, rows: np.ndarray, mean: np.ndarray, sd: np.ndarray, horizon: int) -> pd.DataFrame:
        n = len(rows)
        offset = pd.tseries.frequencies.to_offset(self.freq)
        last = pd.DatetimeIndex(self.states["last_timestamp"][rows])
        stamps = np.stack([(last + step * offset).to_numpy() for step in range(1, horizon + 1)], axis=1)
        half = Z_95 * sd
        return pd.DataFrame({
            "series": np.repeat(self.states["series"][rows].astype(str), horizon),
            "step": np.tile(np.arange(1, horizon + 1), n),
            "timestamp": stamps.reshape(-1),
            "mean": mean.reshape(-1),
            "lower": (mean - half).reshape(-1),
            "upper": (mean + half).reshape(-1),
        })

    def forecast(self, ids: Iterable[str] | None = None, horizon: int | None = None) -> pd.DataFrame:
        """(series, step, timestamp, mean, lower, upper) rows; the interval is `interval_level` (95 %)."""
        rows, horizon = self._rows(ids, horizon)
        s = {f: v[rows] for f, v in self.states.items()}
        fitted = holt_winters.Fitted(
            alpha=s["alpha"], beta=s["beta"], gamma=s["gamma"], phi=s["phi"], level=s["level"],
            trend=s["trend"], seasonals=s["seasonals"], sigma=s["sigma"], ok=np.ones(len(rows), bool),
        )
        mean, sd = holt_winters.forecast(fitted, horizon)
        naive = s["method"] == SEASONAL_NAIVE
        if naive.any():
            naive_mean, naive_sd = self._naive(s, horizon)
            mean[naive], sd[naive] = naive_mean[naive], naive_sd[naive]
        return self._frame(rows, mean, sd, horizon)

    def _naive(self, s: dict[str, np.ndarray], horizon: int) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(horizon)
        mean = s["naive"][:, steps % self.season]
        sd = np.nan_to_num(s["naive_sigma"])[:, None] * np.sqrt(steps // self.season + 1)[None, :]
        return mean, sd

    def naive_forecast(self, ids: Iterable[str] | None = None, horizon: int | None = None) -> pd.DataFrame:
        """Seasonal naive from the same history: the baseline every figure is reported beside."""
        rows, horizon = self._rows(ids, horizon)
        mean, sd = self._naive({f: v[rows] for f, v in self.states.items()}, horizon)
        return self._frame(rows, mean, sd, horizon)


def _payloads(train, validation, horizon, season, batch_size, done_ids) -> Iterable[tuple[int, dict]]:
    ids = np.array(sorted(pd.unique(train["series"]).astype(str)), dtype=object)
    val_ids = set(pd.unique(validation["series"]).astype(str))
    missing = [i for i in ids if i not in val_ids]
    if missing:
        raise DataError(f"series {missing[:5]} have training rows but no validation rows")
    for begin in range(0, len(ids), batch_size):
        batch = ids[begin : begin + batch_size]
        todo = int(sum(1 for i in batch if i not in done_ids))
        if not todo:
            continue
        train_m, _ = to_matrix(train, batch)
        val_m, last = to_matrix(validation, batch)
        if val_m.shape[1] != horizon:
            raise DataError(f"validation windows hold {val_m.shape[1]} points, expected the horizon {horizon}")
        yield todo, {"ids": batch, "train": train_m, "validation": val_m, "last": last,
                     "season": season, "horizon": horizon}


@contextmanager
def _workers_skip_the_main_script():
    """Spawned workers import the parent's main script (train.py, and the classifier's libraries it
    imports: about 2.5 CPU seconds each) only to find _fit_batch, which lives here. With the script's
    path hidden while they start, they import this module alone."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:  # run with -m: imported by name, left as is
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def fit(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    horizon: int,
    season: int,
    *,
    freq: str,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    done: dict[str, np.ndarray] | None = None,
    after_batch: Callable[[dict[str, np.ndarray]], None] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    progress_interval: float = PROGRESS_INTERVAL_SECONDS,
) -> ForecastModel:
    """Fit every series of `train` (validation: the H points after each series' train).

    `done`: states from a checkpoint (as passed to `after_batch`); their series are not refitted.
    `after_batch(states)`: called with every state so far after each batch, for checkpointing.
    `progress(info)`: at most every `progress_interval` seconds and at the end, with
    done/total series, series per second and the seconds left at that rate.
    """
    if season < 1:
        raise DataError(f"season must be at least 1, got {season}")
    done_ids = set(done["series"].astype(str)) if done is not None and len(done["series"]) else set()
    parts = [done] if done_ids else []
    total = train["series"].nunique()
    finished, started, last_report = len(done_ids), time.monotonic(), time.monotonic()
    fitted_here = 0

    def report(final: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is None or (not final and now - last_report < progress_interval):
            return
        last_report = now
        rate = fitted_here / max(now - started, 1e-9)
        left = (total - finished) / rate if rate > 0 else None
        progress({"done": finished, "total": total, "series_per_second": round(rate, 2),
                  "seconds_left": round(left, 1) if left is not None else None})

    def absorb(todo: int, states: dict[str, np.ndarray]) -> None:
        nonlocal finished, fitted_here
        new = np.array([s not in done_ids for s in states["series"].astype(str)])
        parts.append(_select(states, new))
        finished += todo
        fitted_here += todo
        if after_batch is not None:
            after_batch(merge_states(parts))
        report()

    batches = list(_payloads(train, validation, horizon, season, batch_size, done_ids))
    workers = min(workers, len(batches))  # a pool for one batch costs its start-up and gains nothing
    if workers <= 1:
        for todo, payload in batches:
            absorb(todo, _fit_batch(payload))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            with _workers_skip_the_main_script():  # every worker starts within the first `workers` submits
                pending = [(todo, pool.submit(_fit_batch, payload)) for todo, payload in batches]
            for todo, future in pending:
                absorb(todo, future.result())
    report(final=True)
    return ForecastModel(merge_states(parts), freq=freq, horizon=horizon, season=season)
