"""Fit and forecast synthetic hourly servers: statsmodels against the vectorised Holt-Winters.

    .venv/bin/python bench/forecast_bench.py [--series 2000] [--days 60] [--baseline-series 200]

All in one run: statsmodels ExponentialSmoothing (additive trend and season, period 24) on a
fixed subset (every k-th series) in this process; the chosen engine (tasks.forecast.model.fit:
validation choice against seasonal naive, refit on train + validation) with 1 and 2 worker
processes; and the whole train step (train.py through the sagemaker-training toolkit, as the
local runner starts it: one process tree per simulated host, each fitting its hash share with
cores / hosts workers, the parts handed to the leader, which writes the artifact) over 1, 2 and
4 hosts: wall time from the job's start to model.tar.gz, toolkit start-up included. BLAS is held at 1 thread (scipy imported first, so the
limit reaches its own OpenBLAS). MASE is on the 24-point test window, scaled by each series'
in-sample seasonal-naive error; both methods see the same history (train + validation).
Prints a table, then `name=value` ratios on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS before limiting threads)
import statsmodels.tsa.holtwinters as smhw
from threadpoolctl import threadpool_info, threadpool_limits

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO)]

from tasks.forecast import channels, cleaning, evaluation, model, split, synthetic  # noqa: E402

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


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (pool workers, job processes): the
    figure that does not move when other work shares the machine, as wall time does."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def mase(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> float:
    usable = scale > 0
    errors = np.nanmean(np.abs(actual - predicted), axis=1)
    return float(np.mean(errors[usable] / scale[usable]))


@contextlib.contextmanager
def _fds_to(log):
    """stdout and stderr of this process and its children into `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def train_step_seconds(train, validation, freq: str, hosts: int, root: Path) -> tuple[float, list[int]]:
    """The whole train step over `hosts` simulated hosts; (wall seconds, series per host's part)."""
    import json
    import tarfile

    from localrun.engines import ProcessEngine
    from localrun.jobs import Job
    from localrun.runner import LocalSession
    from pipeline.spec import FORECAST

    inputs = {name: root / "in" / name for name in ("train", "validation", "schema")}
    if not inputs["schema"].exists():
        # as feature writes it: TrainFiles files, each series in one, shared out by S3 key
        channels.write_split_files(inputs["train"], "train", train, FORECAST.parameter("TrainFiles").default)
        channels.write_split(inputs["validation"], "validation", validation)
        channels.write_schema(inputs["schema"], {"columns": {"series": "series", "time": "timestamp", "value": "value"},
                                                 "freq": freq, "horizon": HORIZON, "series": int(train["series"].nunique()),
                                                 "season": SEASON})
    workers = max(1, len(os.sched_getaffinity(0)) // hosts)
    session = LocalSession(root / f"hosts-{hosts}", ProcessEngine())
    started = time.perf_counter()
    with open(root / f"hosts-{hosts}.log", "w") as log, _fds_to(log):  # the job log, not the table
        result = session.run(Job(FORECAST.step("train"), inputs, {"workers": workers}, hosts), use_cache=False)
    seconds = time.perf_counter() - started
    with tarfile.open(result.outputs["model"] / "model.tar.gz") as archive:
        meta = json.load(archive.extractfile("metadata.json"))
    return seconds, [p["series"] for p in meta["parts"]]


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
    started, cpu = time.perf_counter(), cpu_seconds()
    sm_fc, sm_failures = statsmodels_forecasts(hist_m[subset])
    sm_seconds, sm_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    sm_rate = len(subset) / sm_seconds
    sm_mase = mase(test_m[subset], sm_fc, scale[subset])
    rows.append(("statsmodels ExponentialSmoothing AAA (1 process)", len(subset), sm_seconds, sm_rate, sm_mase,
                 f"{sm_failures} failed; {sm_cpu:.1f} CPU s, {len(subset) / sm_cpu:.1f} series per CPU s"))

    naive = model.seasonal_naive_state(hist_m, SEASON)[0][:, np.arange(HORIZON) % SEASON]
    rows.append(("seasonal naive", len(subset), float("nan"), float("nan"), mase(test_m[subset], naive[subset],
                                                                                  scale[subset]), ""))

    results, cpu_rates = {}, {}
    for workers in (1, 2):
        started, cpu = time.perf_counter(), cpu_seconds()
        fitted = model.fit(train, validation, HORIZON, SEASON, freq="h", workers=workers)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        forecasts = fitted.forecast()
        ours = forecasts["mean"].to_numpy().reshape(len(ids), HORIZON)
        results[workers] = (seconds, ours, fitted)
        rows.append((f"vectorised Holt-Winters, {workers} worker process(es)", len(ids), seconds, len(ids) / seconds,
                     mase(test_m[subset], ours[subset], scale[subset]),
                     f"all-series MASE {mase(test_m, ours, scale):.4f}; "
                     f"{fitted.summary()['seasonal_naive_fallbacks']} fallbacks; {cpu:.1f} CPU s, "
                     f"{len(ids) / cpu:.1f} series per CPU s"))
        cpu_rates[workers] = len(ids) / cpu
    same = np.array_equal(results[1][1], results[2][1])

    shard_seconds = {}
    with tempfile.TemporaryDirectory(prefix="forecast-bench-") as scratch:
        for hosts in (1, 2, 4):
            cpu = cpu_seconds()
            shard_seconds[hosts], counts = train_step_seconds(train, validation, "h", hosts, Path(scratch))
            cpu = cpu_seconds() - cpu
            assert sum(counts) == len(ids), (counts, len(ids))
            rows.append((f"whole train step, {hosts} simulated host(s)", len(ids), shard_seconds[hosts],
                         len(ids) / shard_seconds[hosts], float("nan"),
                         f"series per host's part {counts}; {cpu:.1f} CPU s (toolkit start-up included)"))

    report, _, _ = evaluation.evaluate(results[1][2], test)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shares the machine: "
          "wall times move with it, CPU seconds do not)")
    print(f"{'method':<52} {'series':>6} {'seconds':>8} {'series/s':>9} {'MASE':>7}  note")
    for name, n, seconds, rate, value, note in rows:
        print(f"{name:<52} {n:>6} {seconds:>8.2f} {rate:>9.1f} {value:>7.4f}  {note}")
    ours_rate = len(ids) / results[1][0]
    ours_mase = mase(test_m[subset], results[1][1][subset], scale[subset])
    print(f"evaluation: MASE {report['forecast']['model']['mase']:.4f} vs seasonal naive "
          f"{report['forecast']['seasonal_naive']['mase']:.4f}, skill {report['gate']['value']:.4f}, "
          f"95% interval coverage {report['forecast']['interval_coverage']:.3f}; 1 and 2 workers identical: {same}")
    ratios = {
        "speedup_vs_statsmodels": ours_rate / sm_rate,
        "cpu_speedup_vs_statsmodels": cpu_rates[1] / (len(subset) / sm_cpu),
        "mase_ratio_vs_statsmodels": ours_mase / sm_mase,
        "workers2_speedup": results[1][0] / results[2][0],
        "whole_fit_seconds_1_worker": results[1][0],
        "whole_fit_seconds_2_workers": results[2][0],
        "train_step_seconds_1_host": shard_seconds[1],
        "train_step_seconds_2_hosts": shard_seconds[2],
        "train_step_seconds_4_hosts": shard_seconds[4],
        "skill_vs_seasonal_naive": report["gate"]["value"],
    }
    print(" ".join(f"{k}={v:.3f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
