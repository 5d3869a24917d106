#!/usr/bin/env python3
"""Data volume: clean.py, feature.py and train.py on a large CSV, beside a plain pyarrow read of it.

    ROWS=2000000 [QUOTING=needed] .venv/bin/python bench/volume_bench.py [--skip-train] [--baseline REF]
        [--repeat N] [--pinned] [--estimators "gb:n_estimators=20,hgb"]

Builds ROWS rows (default 2,000,000) by resampling data/lending_club.csv with jittered numbers,
the categories kept, 1% blanks in two numeric columns, some exact duplicate rows and rows without
a target (so the report's drop counts are exercised), into a temp dir; unquoted as the default data
is, or quoted as pyarrow writes strings (QUOTING=needed). Each step runs as a real
process through localrun's ProcessEngine in its own /opt/ml tree (as tests/steps does); its wall
time is from start to exit and its peak RSS is the child's own ru_maxrss (os.wait4), so a step's
figures never include the bench's memory or another step's. `pyarrow.csv.read_csv` of the same
file runs the same way, and so does the floor of a clean step that writes Parquet: that read, then
`pyarrow.parquet.write_table` of what it read, with pandas imported. `--repeat N` runs every measured
process N times, interleaved (a shared machine's load moves between runs), and reports the median of each.
Then train.py on the feature output, once per estimator. The last line holds the ratios as name=value pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SOURCE = ROOT / "data" / "lending_club.csv"
TARGET, POSITIVE, IDS = "Class", "bad", "rownames"
DUPLICATE_SHARE = 0.001  # exact copies of other rows: clean drops and counts them
MISSING_TARGET_SHARE = 0.0005
BLANK_SHARE = 0.01  # in BLANK_COLUMNS
BLANK_COLUMNS = ("revol_util", "all_util")


# ---- data ------------------------------------------------------------------------------------------
def build_csv(path: Path, rows: int, seed: int = 0) -> dict[str, int]:
    """`rows` lines of lending_club-like data at `path`; returns how many rows clean must drop, by reason."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    source = pd.read_csv(SOURCE)
    sample = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    sample[IDS] = np.arange(1, rows + 1)
    for column in source.columns:
        if column in (IDS, TARGET) or not pd.api.types.is_numeric_dtype(source[column]):
            continue
        values = sample[column].to_numpy()
        if pd.api.types.is_integer_dtype(source[column]):
            spread = max(1, int(np.std(values) * 0.05))
            sample[column] = np.clip(values + rng.integers(-spread, spread + 1, rows), 0, None)
        else:
            sample[column] = np.round(np.clip(values * rng.normal(1.0, 0.05, rows), 0, None), 2)
    for column in BLANK_COLUMNS:
        sample[column] = sample[column].astype("float64").mask(rng.random(rows) < BLANK_SHARE)
    sample[TARGET] = sample[TARGET].astype(object).mask(rng.random(rows) < MISSING_TARGET_SHARE, None)
    # exact duplicates: some rows replaced by a copy of the row before them
    order = np.arange(rows)
    copies = np.flatnonzero(rng.random(rows) < DUPLICATE_SHARE)
    order[copies[copies > 0]] = copies[copies > 0] - 1
    sample = sample.iloc[order].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unquoted, as data/lending_club.csv and pandas write it (no value holds a comma or a quote)
    options = pacsv.WriteOptions(quoting_style=os.environ.get("QUOTING", "none"))
    pacsv.write_csv(pa.Table.from_pandas(sample, preserve_index=False), path, options)
    missing = int(sample[TARGET].isna().sum())
    duplicate = int(sample[sample[TARGET].notna()].duplicated().sum())
    return {"missing_target": missing, "duplicate": duplicate}


# ---- measured processes ----------------------------------------------------------------------------
@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    exit_code: int
    cpu_seconds: float = 0.0  # user + system: less moved by other jobs' load than the wall time


def wait_measured(process: subprocess.Popen, started: float) -> Measured:
    """Reap `process` with os.wait4: its own peak RSS (Linux: KiB), not the largest of all children."""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, process.returncode, usage.ru_utime + usage.ru_stime)


def measuring_engine():
    """localrun's ProcessEngine, recording each host process's wall time and peak RSS in `.measured`."""
    from localrun.engines import ProcessEngine

    class MeasuringEngine(ProcessEngine):
        def __init__(self) -> None:
            super().__init__()
            self.measured: list[Measured] = []

        def run(self, job, tree, host) -> int:  # noqa: ARG002
            started = time.perf_counter()
            process = self.start(job, tree)
            try:
                result = wait_measured(process, started)
            finally:
                with self._lock:
                    self._running.discard(process)
            self.measured.append(result)
            return result.exit_code

    return MeasuringEngine()


def run_step(session, engine, step: str, inputs: dict, arguments: dict | None = None):
    """One step of the classifier pipeline through the local session; returns (result, Measured)."""
    from localrun.jobs import Job
    from pipeline.spec import CLASSIFIER

    before = len(engine.measured)
    result = session.run(Job(CLASSIFIER.step(step), inputs, arguments or {}, None), use_cache=False)
    (measured,) = engine.measured[before:]
    return result, measured


def pyarrow_read(path: Path, write_to: Path | None = None) -> Measured:
    """A plain pyarrow read of the file in its own process (the same Python, so the same start-up cost); with
    `write_to`, pandas imported and the table written there as Parquet: the floor of a clean step."""
    reader = "pyarrow.csv.read_csv" if path.suffix == ".csv" else "pyarrow.parquet.read_table"
    module = reader.rsplit(".", 1)[0]
    code = f"import {module}; t = {reader}({str(path)!r}); print(t.num_rows)"
    if write_to is not None:
        code = f"import pandas, pyarrow.parquet; {code}; pyarrow.parquet.write_table(t, {str(write_to)!r})"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    measured = wait_measured(process, started)
    if measured.exit_code:
        raise SystemExit(f"pyarrow read failed with exit code {measured.exit_code}")
    return measured


def new_session(directory: Path):
    from localrun.runner import LocalSession

    engine = measuring_engine()
    return LocalSession(directory, engine), engine


@contextlib.contextmanager
def scripts_of(ref: str, work: Path):
    """The engine runs the step scripts of git revision `ref` (a processing script's own directory comes
    first on its sys.path, so it imports that revision's common/ and tasks/ too)."""
    import localrun.engines

    target = work / f"scripts-{ref.replace('/', '_')}"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "scripts"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    saved = localrun.engines.SCRIPTS
    localrun.engines.SCRIPTS = target / "scripts"
    try:
        yield
    finally:
        localrun.engines.SCRIPTS = saved


def clean_and_feature(work: Path, csv_path: Path, name: str = "run", pinned: bool = False):
    """clean.py then feature.py on `csv_path`; returns the session, engine and both (result, Measured).
    `pinned`: as the pipeline runs them, roles.py first and clean.py applying its roles.json (then
    `session.roles` holds the roles step's (result, Measured))."""
    session, engine = new_session(work / name)
    raw = csv_path.parent
    inputs, arguments = {"raw": raw}, {"target": TARGET, "positive_label": POSITIVE, "id_columns": IDS}
    if pinned:
        session.roles = run_step(session, engine, "roles", {"raw": raw}, arguments)
        inputs, arguments = {**inputs, "roles": session.roles[0].outputs["roles"]}, {"target": TARGET}
    clean = run_step(session, engine, "clean", inputs, arguments)
    feature = run_step(session, engine, "feature", {"cleaned": clean[0].outputs["cleaned"]})
    return session, engine, clean, feature


def contents(*results) -> dict[str, object]:
    """Every output file of the given step results, by output name and file name: Parquet files as their
    table and schema metadata (pyarrow may split columns into chunks differently), others by SHA-256."""
    import pyarrow.parquet as pq

    from common.storage import sha256_file

    def content(f: Path):
        if f.suffix == ".parquet":
            table = pq.read_table(f)
            return table.combine_chunks(), table.schema.metadata
        return sha256_file(f)

    return {f"{name}/{f.name}": content(f) for result in results for name, directory in result.outputs.items()
            for f in sorted(Path(directory).rglob("*")) if f.is_file()}


def differing_contents(left: dict, right: dict) -> list[str]:
    """The output files whose contents differ (or that only one side wrote)."""
    return sorted(set(left) ^ set(right)) + [k for k in sorted(set(left) & set(right)) if not (
        left[k] == right[k] if isinstance(left[k], str) else (left[k][0].equals(right[k][0]) and left[k][1] == right[k][1]))]


def median(runs: list[Measured]) -> Measured:
    """Median wall and CPU time, the largest peak RSS; any failed run's exit code wins."""
    def middle(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    failed = next((m.exit_code for m in runs if m.exit_code), 0)
    return Measured(middle([m.seconds for m in runs]), max(m.peak_rss_mb for m in runs), failed,
                    middle([m.cpu_seconds for m in runs]))


def build_in_child(path: Path, rows: int) -> dict[str, int]:
    """build_csv in a process of its own: a child's ru_maxrss starts from its parent's high-water mark (Linux
    keeps it across fork and exec), so the bench itself must never hold the 2-million-row frame."""
    code = (f"import json, sys; sys.path[:0] = {[str(ROOT / 'scripts'), str(ROOT)]!r}; from pathlib import Path; "
            f"from bench.volume_bench import build_csv; print(json.dumps(build_csv(Path({str(path)!r}), {rows})))")
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


# ---- report ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--baseline", metavar="REF", help="also run clean.py and feature.py of git revision REF (e.g. main)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every measured process (median reported)")
    parser.add_argument("--pinned", action="store_true",
                        help="run as the pipeline does: roles.py once, then clean.py applying its roles (not inferring)")
    parser.add_argument("--estimators", default="gb,hgb",
                        help="train.py runs to time: estimator[:k=v;k=v] (extra hyperparameters), comma-separated")
    args = parser.parse_args()
    rows = int(os.environ.get("ROWS", "2000000"))
    with tempfile.TemporaryDirectory(prefix="volume-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "raw" / "volume.csv"
        started = time.perf_counter()
        expected = build_in_child(csv_path, rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"built {rows} rows, {size_mb:.0f} MB CSV in {time.perf_counter() - started:.1f} s "
              f"(drops expected: {expected})", flush=True)
        runs: dict[str, list[Measured]] = {}
        for attempt in range(args.repeat):
            runs.setdefault("arrow", []).append(pyarrow_read(csv_path))
            runs.setdefault("floor", []).append(pyarrow_read(csv_path, work / "floor.parquet"))
            session, engine, (clean, clean_m), (feature, feature_m) = clean_and_feature(work, csv_path, f"run-{attempt}",
                                                                                        pinned=args.pinned)
            if args.pinned:
                runs.setdefault("roles", []).append(session.roles[1])
            runs.setdefault("clean", []).append(clean_m)
            runs.setdefault("feature", []).append(feature_m)
            if args.baseline:
                with scripts_of(args.baseline, work / f"baseline-scripts-{attempt}"):
                    _, _, (b_clean, base_clean), (b_feature, base_feature) = clean_and_feature(
                        work, csv_path, f"baseline-{attempt}")
                runs.setdefault("base_clean", []).append(base_clean)
                runs.setdefault("base_feature", []).append(base_feature)
                if not attempt:
                    compared = (clean, feature), (b_clean, b_feature)
        if args.baseline:  # after every measured run: reading the outputs grows this process (see build_in_child)
            differing = differing_contents(contents(*compared[0]), contents(*compared[1]))
            print(f"outputs of clean.py and feature.py equal to {args.baseline}'s: {not differing}"
                  + (f" (differ: {differing}; with --pinned clean's report holds the roles step's sample)" if differing else ""),
                  flush=True)
        arrow, floor, clean_m, feature_m = (median(runs[k]) for k in ("arrow", "floor", "clean", "feature"))
        (report_file,) = sorted(Path(clean.outputs["cleaned"]).glob("report-*.json"))
        report = json.loads(report_file.read_text())
        lines = [("pyarrow.csv.read_csv", arrow), ("read_csv + Parquet write (pandas imported)", floor),
                 *([("roles.py (once, before clean)", median(runs["roles"]))] if args.pinned else []),
                 ("clean.py" + (" (applying roles.json)" if args.pinned else ""), clean_m), ("feature.py", feature_m)]
        if args.baseline:
            base_clean, base_feature = median(runs["base_clean"]), median(runs["base_feature"])
            lines += [(f"clean.py of {args.baseline}", base_clean), (f"feature.py of {args.baseline}", base_feature)]
        train_rows, trained = None, {}
        if not args.skip_train:
            train_rows = len(pd.read_parquet(next(Path(feature.outputs["train"]).glob("*.parquet")), columns=[TARGET]))
            for number, run in enumerate(e for e in args.estimators.split(",") if e):
                estimator, _, extra = run.partition(":")
                hyperparameters = {"estimator": estimator, **dict(kv.split("=", 1) for kv in extra.split(";") if kv)}
                inputs = {name: feature.outputs[name] for name in ("train", "validation", "preprocessor")}
                # a session of its own: the tree (and its checkpoints) of one run is not the next one's
                train_session, train_engine = new_session(work / f"train-{number}")
                result, measured = run_step(train_session, train_engine, "train", inputs, hyperparameters)
                model_dir = next(iter(result.trees.values())) / "model"
                metadata = json.loads((model_dir / "metadata.json").read_text())
                trees = metadata.get("params", {}).get("trees")
                auc = metadata.get("metrics", {}).get("validation_auc")
                print(f"train {run}: {trees} trees, validation AUC {auc}, {measured.seconds:.1f} s", flush=True)
                lines.append((f"train.py {run} ({trees} trees)", measured))
                trained[estimator] = (measured.seconds, trees)
        print(f"\nrows in {report['rows_in']}, out {report['rows_out']}, dropped {report['dropped']}"
              + (f"; train split {train_rows} rows" if train_rows else ""))
        print(f"{'process (median of ' + str(args.repeat) + ')':<44}{'seconds':>10}{'x pyarrow':>11}{'CPU s':>8}"
              f"{'x pyarrow':>11}{'peak RSS MB':>14}{'exit':>6}")
        for name, m in lines:
            print(f"{name:<44}{m.seconds:>10.1f}{m.seconds / arrow.seconds:>11.2f}{m.cpu_seconds:>8.1f}"
                  f"{m.cpu_seconds / arrow.cpu_seconds:>11.2f}{m.peak_rss_mb:>14.0f}{m.exit_code:>6}")
        if args.repeat > 1:
            print("every run, seconds (CPU): " + "; ".join(
                f"{k} {', '.join(f'{m.seconds:.1f} ({m.cpu_seconds:.1f})' for m in v)}" for k, v in runs.items()))
        ratios = {
            "rows": rows,
            "csv_mb": round(size_mb),
            "floor_time_vs_pyarrow": floor.seconds / arrow.seconds,
            "clean_time_vs_pyarrow": clean_m.seconds / arrow.seconds,
            "clean_cpu_vs_pyarrow": clean_m.cpu_seconds / arrow.cpu_seconds,
            "feature_cpu_vs_pyarrow": feature_m.cpu_seconds / arrow.cpu_seconds,
            "feature_time_vs_pyarrow": feature_m.seconds / arrow.seconds,
            "clean_rss_vs_pyarrow": clean_m.peak_rss_mb / arrow.peak_rss_mb,
            "feature_rss_vs_pyarrow": feature_m.peak_rss_mb / arrow.peak_rss_mb,
            "clean_rss_mb_per_csv_mb": clean_m.peak_rss_mb / size_mb,
        }
        if args.baseline:
            ratios["clean_time_baseline_vs_now"] = base_clean.seconds / clean_m.seconds
            ratios["feature_time_baseline_vs_now"] = base_feature.seconds / feature_m.seconds
            ratios["clean_rss_baseline_vs_now"] = base_clean.peak_rss_mb / clean_m.peak_rss_mb
            ratios["feature_rss_baseline_vs_now"] = base_feature.peak_rss_mb / feature_m.peak_rss_mb
        if "gb" in trained and "hgb" in trained:  # per tree: the GB run may be capped to fewer trees
            (gb_s, gb_trees), (hgb_s, hgb_trees) = trained["gb"], trained["hgb"]
            ratios["train_gb_vs_hgb_seconds_per_tree"] = (gb_s / gb_trees) / (hgb_s / hgb_trees)
        print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
