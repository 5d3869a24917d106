#!/usr/bin/env python3
"""Batch transform benchmark: ROWS rows (default 200,000; the issue's figure is 2,000,000) scored two ways,
same model, same headerless CSV file, one run:

  in-process   a child process: pandas.read_csv of the file, artifact.load + predict_proba, one thread
               (the floor: no HTTP, no splitting); peak RSS is its own ru_maxrss
  transform    localrun.transform in this process: scripts/serve (SAGEMAKER_BATCH=true, WORKERS workers),
               the file split by line into MultiRecord mini-batches, the payload limit and requests in
               flight as the container answers (or PAYLOAD_MB, CONCURRENCY), .out assembled in order. Two rates: the whole job (the
               server's start, model load and self-test, and its graceful stop included: what a job costs)
               and scoring (first record read to .out renamed). Peak memory is the sum of PSS over the
               runner and the server's process tree (forked workers share the model's pages), every 50 ms

The model is MODEL (a model.tar.gz) or, without one, that of a fresh `python -m localrun` run on the
default data (its control plane stopped afterwards). Rows are the run's test split, repeated with a
small change per copy. The last line holds the ratios; "per core" divides each rate by the cores it
kept busy (in-process: 1; transform: min(requests in flight, workers, requests)).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO)]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _pss(pid: int) -> int | None:
    """Proportional set size: pages shared by forked workers counted once in all, not once per worker."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def tree_rss_bytes(root: int) -> int:
    """Memory of `root` and every descendant, from /proc: PSS where readable, else RSS."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: ppid
        rss[pid] = int(fields[21]) * page  # fields[21]: rss in pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        pss = _pss(pid)
        total += pss if pss is not None else rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class PeakSampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.root, self.interval, self.peak = root, interval, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def model_of_a_run(work: Path) -> Path:
    log(f"training a model: python -m localrun --work-dir {work}")
    run = subprocess.run([sys.executable, "-m", "localrun", "--work-dir", str(work)], cwd=REPO,
                         capture_output=True, text=True, timeout=1800)
    subprocess.run([sys.executable, "-m", "localrun.controlplane", "stop", "--state-dir", str(work / "controlplane")],
                   cwd=REPO, capture_output=True, timeout=120)
    if run.returncode:
        raise RuntimeError(f"the pipeline run failed:\n{run.stderr[-3000:]}")
    return Path(json.loads((work / "latest" / "summary.json").read_text())["outputs"]["model"])


def write_rows(model_dir: Path, test_dir: Path | None, rows: int, path: Path) -> None:
    import pandas as pd

    from tasks.classifier import artifact

    model = artifact.load(model_dir)
    if test_dir is not None:
        base = pd.read_parquet(next(test_dir.glob("*.parquet")))[list(model.schema.features)]
    else:
        base = model.sample_rows()[list(model.schema.features)]
    numeric = model.schema.numeric[0]
    with open(path, "w", encoding="utf-8") as out:
        written, copy = 0, 0
        while written < rows:
            chunk = base.head(rows - written).copy()
            chunk[numeric] = chunk[numeric] + copy % 97  # no two copies alike
            chunk.to_csv(out, index=False, header=False)
            written += len(chunk)
            copy += 1


IN_PROCESS = """
import sys, time, resource
import pandas as pd
from pathlib import Path
from tasks.classifier import artifact
started = time.perf_counter()
model = artifact.load(Path(sys.argv[1]))
rows = pd.read_csv(sys.argv[2], header=None, names=list(model.schema.features))
proba = model.predict_proba(rows)
seconds = time.perf_counter() - started
with open(sys.argv[3], "w") as out:
    out.write("\\n".join(map(repr, proba.tolist())) + "\\n")
print(seconds)
"""


def in_process(model_dir: Path, data: Path, scores: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "scripts"), str(REPO)])}
    process = subprocess.Popen([sys.executable, "-c", IN_PROCESS, str(model_dir), str(data), str(scores)],
                               env=env, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError("in-process scoring failed")
    return float(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("ROWS", 200_000)))
    parser.add_argument("--model", type=Path, default=os.environ.get("MODEL") or None)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 2)))
    parser.add_argument("--concurrency", type=int, default=int(os.environ["CONCURRENCY"]) if os.environ.get("CONCURRENCY")
                        else None, help="MaxConcurrentTransforms (default: the container's answer)")
    parser.add_argument("--payload-mb", type=int, default=int(os.environ["PAYLOAD_MB"]) if os.environ.get("PAYLOAD_MB")
                        else None, help="MaxPayloadInMB (default: the container's answer)")
    args = parser.parse_args()

    from contract import modeltar
    from localrun.transform import TransformJob, raise_for_failures, run_transform

    with tempfile.TemporaryDirectory(prefix="transform-bench-") as tmp:
        tmp = Path(tmp)
        model_tar = args.model.resolve() if args.model else model_of_a_run(tmp / "run")
        test_dir = model_tar.parents[2] / "feature" / "test"  # a run's layout: s3/train/model, s3/feature/test
        test_dir = test_dir if test_dir.is_dir() else None
        model_dir = modeltar.extract(model_tar, tmp / "model")
        data = tmp / "input" / "rows.csv"
        data.parent.mkdir()
        log(f"writing {args.rows:,} rows")
        write_rows(model_dir, test_dir, args.rows, data)
        size_mb = data.stat().st_size / 2**20

        log("in-process scoring")
        base_seconds, base_rss = in_process(model_dir, data, tmp / "inprocess.txt")

        log(f"transform: {args.workers} workers")
        job = TransformJob(data=data, output=tmp / "output", model_tar=model_tar,
                           max_concurrent_transforms=args.concurrency, max_payload_mb=args.payload_mb,
                           environment={"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)})
        sampler = PeakSampler(os.getpid())
        sampler.start()
        started = time.perf_counter()
        result = raise_for_failures(run_transform(job, tmp / "job"))
        seconds = time.perf_counter() - started
        peak_mb = sampler.stop() / 2**20
        params = result.parameters["algo-1"]

        # the same scores both ways, line for line
        expected = (tmp / "inprocess.txt").read_text().splitlines()
        with open(tmp / "output" / "rows.csv.out", encoding="utf-8") as out:
            got = [line.split(",", 1)[0] for line in out]
        mismatched = sum(float(a) != float(b) for a, b in zip(expected, got)) + abs(len(expected) - len(got))

    base_rate, rate = args.rows / base_seconds, args.rows / seconds
    scoring_rate = args.rows / result.scoring_seconds
    concurrency = params["MaxConcurrentTransforms"]
    cores = min(concurrency, args.workers, result.objects[0].requests)
    print(f"{args.rows:,} rows, {size_mb:.1f} MB headerless CSV; transform: {params['BatchStrategy']}, "
          f"{params['MaxPayloadInMB']} MB payloads, {result.objects[0].requests} requests, "
          f"{concurrency} in flight, {args.workers} workers; mismatched scores: {mismatched}")
    print(f"{'path':<12}{'seconds':>10}{'rows/s':>12}{'cores':>7}{'rows/s/core':>13}{'peak MB':>13}")
    print(f"{'in-process':<12}{base_seconds:>10.2f}{base_rate:>12,.0f}{1:>7}{base_rate:>13,.0f}{base_rss:>13.0f}")
    print(f"{'transform':<12}{seconds:>10.2f}{rate:>12,.0f}{cores:>7}{rate / cores:>13,.0f}{peak_mb:>13.0f}")
    print(f"{'  scoring':<12}{result.scoring_seconds:>10.2f}{scoring_rate:>12,.0f}{cores:>7}"
          f"{scoring_rate / cores:>13,.0f}{'':>13}")
    print(f"transform_rows_ratio_vs_inprocess={rate / base_rate:.3f} "
          f"transform_rows_per_core_ratio_vs_inprocess={rate / cores / base_rate:.3f} "
          f"transform_scoring_rows_ratio_vs_inprocess={scoring_rate / base_rate:.3f} "
          f"transform_scoring_rows_per_core_ratio_vs_inprocess={scoring_rate / cores / base_rate:.3f} "
          f"transform_memory_ratio_vs_inprocess={peak_mb / base_rss:.3f}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
