"""Fit and forecast synthetic hourly servers: statsmodels against the vectorised Holt-Winters.

    .venv/bin/python bench/forecast_bench.py [--series 2000] [--days 60] [--baseline-series 200]

All in one run: statsmodels ExponentialSmoothing (additive trend and season, period 24) on a
fixed subset (every k-th series) in this process; the chosen engine (tasks.forecast.model.fit:
validation choice against seasonal naive, refit on train + validation) with 1 and 2 worker
processes; and the sharded fit over 1, 2 and 4 simulated hosts (each a process fitting its
hash share; wall time of the whole). BLAS is held at 1 thread (scipy imported first, so the
limit reaches its own OpenBLAS). MASE is on the 24-point test window, scaled by each series'
in-sample seasonal-naive error; both methods see the same history (train + validation).
Prints a table, then `name=value` ratios on the last line.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS before limiting threads)
import statsmodels.tsa.holtwinters as smhw
from threadpoolctl import threadpool_info, threadpool_limits

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from tasks.forecast import cleaning, evaluation, model, sharding, split, synthetic  # noqa: E402

HORIZON = 24
SEASON = 24


def statsmodels_forecasts(history: np.ndarray) -> tuple[np.ndarray, int]:
    """One ExponentialSmoothing(add, add, 24) per row; seasonal naive where it fails. Returns (n x H, failures)."""
    out, failures = np.empty((len(history), HORIZON)), 0
    for i, row in enumerate(history):
        y = pd.Series(row[~np.isnan(row)] if np.isnan(row[0]) else row).interpolate(limit_direction="both")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = smhw.ExponentialSmoothing(y.to_numpy(), trend="add", seasonal="add",
                                                   seasonal_periods=SEASON).fit()
            out[i] = fitted.forecast(HORIZON)
            if not np.isfinite(out[i]).all():
                raise ValueError("non-finite forecast")
        except Exception:  # noqa: BLE001 - any failure falls back, and is counted
            failures += 1
            out[i] = y.to_numpy()[-SEASON:][np.arange(HORIZON) % SEASON]
    return out, failures


def mase(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> float:
    usable = scale > 0
    errors = np.nanmean(np.abs(actual - predicted), axis=1)
    return float(np.mean(errors[usable] / scale[usable]))


def host_fit(args) -> int:
    train, validation, host, n_hosts = args
    with threadpool_limits(1):
        mine = sharding.shard(train, host, n_hosts)
        theirs = validation[validation["series"].isin(pd.unique(mine["series"]))]
        fitted = model.fit(mine, theirs, HORIZON, SEASON, freq="h")
    return len(fitted.ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--baseline-series", type=int, default=200)
    args = parser.parse_args()

    threadpool_limits(1)
    print("threadpoolctl:", [(i["internal_api"], i["num_threads"], Path(i["filepath"]).name) for i in threadpool_info()])
    raw = synthetic.generate(args.series, days=args.days, seed=0)
    long, _ = cleaning.clean(raw, freq="h", min_length=cleaning.min_length_for(HORIZON, SEASON))
    train, validation, test = split.split(long, HORIZON)
    ids = np.array(sorted(pd.unique(long["series"])), dtype=object)
    history = pd.concat([train, validation])
    hist_m, _ = model.to_matrix(history, ids)
    test_m, _ = model.to_matrix(test, ids)
    _, _, scale = model.seasonal_naive_state(hist_m, SEASON)
    step = max(1, len(ids) // args.baseline_series)
    subset = np.arange(0, len(ids), step)[: args.baseline_series]

    rows = []
    started = time.perf_counter()
    sm_fc, sm_failures = statsmodels_forecasts(hist_m[subset])
    sm_seconds = time.perf_counter() - started
    sm_rate = len(subset) / sm_seconds
    sm_mase = mase(test_m[subset], sm_fc, scale[subset])
    rows.append(("statsmodels ExponentialSmoothing AAA (1 process)", len(subset), sm_seconds, sm_rate, sm_mase,
                 f"{sm_failures} failed"))

    naive = model.seasonal_naive_state(hist_m, SEASON)[0][:, np.arange(HORIZON) % SEASON]
    rows.append(("seasonal naive", len(subset), float("nan"), float("nan"), mase(test_m[subset], naive[subset],
                                                                                  scale[subset]), ""))

    results = {}
    for workers in (1, 2):
        started = time.perf_counter()
        fitted = model.fit(train, validation, HORIZON, SEASON, freq="h", workers=workers)
        seconds = time.perf_counter() - started
        forecasts = fitted.forecast()
        ours = forecasts["mean"].to_numpy().reshape(len(ids), HORIZON)
        results[workers] = (seconds, ours, fitted)
        rows.append((f"vectorised Holt-Winters, {workers} worker process(es)", len(ids), seconds, len(ids) / seconds,
                     mase(test_m[subset], ours[subset], scale[subset]),
                     f"all-series MASE {mase(test_m, ours, scale):.4f}; "
                     f"{fitted.summary()['seasonal_naive_fallbacks']} fallbacks"))
    same = np.array_equal(results[1][1], results[2][1])

    context = multiprocessing.get_context("spawn")
    shard_seconds = {}
    for hosts in (1, 2, 4):
        started = time.perf_counter()
        with context.Pool(hosts) as pool:
            counts = pool.map(host_fit, [(train, validation, h, hosts) for h in range(hosts)])
        shard_seconds[hosts] = time.perf_counter() - started
        assert sum(counts) == len(ids), (counts, len(ids))
        rows.append((f"sharded by series hash, {hosts} simulated host(s)", len(ids), shard_seconds[hosts],
                     len(ids) / shard_seconds[hosts], float("nan"), f"series per host {counts}"))

    report, _, _ = evaluation.evaluate(results[1][2], test)
    print(f"\n{'method':<52} {'series':>6} {'seconds':>8} {'series/s':>9} {'MASE':>7}  note")
    for name, n, seconds, rate, value, note in rows:
        print(f"{name:<52} {n:>6} {seconds:>8.2f} {rate:>9.1f} {value:>7.4f}  {note}")
    ours_rate = len(ids) / results[1][0]
    ours_mase = mase(test_m[subset], results[1][1][subset], scale[subset])
    print(f"evaluation: MASE {report['forecast']['model']['mase']:.4f} vs seasonal naive "
          f"{report['forecast']['seasonal_naive']['mase']:.4f}, skill {report['gate']['value']:.4f}, "
          f"95% interval coverage {report['forecast']['interval_coverage']:.3f}; 1 and 2 workers identical: {same}")
    ratios = {
        "speedup_vs_statsmodels": ours_rate / sm_rate,
        "mase_ratio_vs_statsmodels": ours_mase / sm_mase,
        "workers2_speedup": results[1][0] / results[2][0],
        "whole_fit_seconds_1_worker": results[1][0],
        "whole_fit_seconds_2_workers": results[2][0],
        "sharded_2_hosts_speedup": shard_seconds[1] / shard_seconds[2],
        "sharded_4_hosts_speedup": shard_seconds[1] / shard_seconds[4],
        "skill_vs_seasonal_naive": report["gate"]["value"],
    }
    print(" ".join(f"{k}={v:.3f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
