#!/usr/bin/env python3
"""Peak memory of `scripts/serve` for one 100 MB CSV request: Batch Transform mode against the real-time path.

  batch      SAGEMAKER_BATCH=true, SAGEMAKER_MAX_PAYLOAD_IN_MB=100: the body is scored in 4 MiB slices of lines
  real-time  no SAGEMAKER_BATCH, SAGEMAKER_MAX_PAYLOAD_IN_MB=100: the whole body decoded and scored at once

Same model (the default training run, .cache/bench/model), same body: the default data's rows, headerless,
in training column order, repeated to --megabytes. One gunicorn worker each, so its VmHWM is the request's
peak; the arbiter's is reported too. Both answers are checked equal line for line. The last line holds
the ratios. Memory is the point here; the seconds are one request each, for orientation only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
MIB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_model(model_dir: Path):
    """The default model on data/lending_club.csv (as serve_bench.py trains it), unless one is there already."""
    from tasks.classifier import artifact, cleaning, features, modeling, schema
    from tasks.classifier.training import TrainParams

    try:
        return artifact.load(model_dir)
    except artifact.ArtifactError:
        pass
    import pandas as pd

    log(f"training the benchmark model into {model_dir}")
    cleaned, _ = cleaning.clean(pd.read_csv(REPO / "data" / "lending_club.csv"), "Class")
    sch = schema.infer(cleaned, "Class", "bad", ["rownames"])
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, seed=42)
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), TrainParams())
    artifact.save(model_dir, fitted.pipeline, sch, fitted.threshold, test.head(3))
    return artifact.load(model_dir)


def body_of(model, megabytes: float) -> bytes:
    import pandas as pd

    rows = pd.read_csv(REPO / "data" / "lending_club.csv")[list(model.schema.features)]
    unit = rows.to_csv(index=False, header=False).encode()
    return unit * max(1, int(megabytes * MIB) // len(unit))


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, body: bytes, timeout: float = 900) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv",
                                                                        "Accept": "text/csv"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def measure(name: str, model_dir: Path, work: Path, body: bytes, batch: bool) -> dict:
    base = work / name
    (base / "model").mkdir(parents=True)
    for item in model_dir.iterdir():
        (base / "model" / item.name).write_bytes(item.read_bytes())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env.update({"SAGEMAKER_BASE_DIR": str(base), "SERVING_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port),
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
                "SAGEMAKER_MODEL_SERVER_TIMEOUT": "900"})
    if batch:
        env["SAGEMAKER_BATCH"] = "true"
    with open(base / "serve.log", "wb") as log_file:
        process = subprocess.Popen([sys.executable, str(REPO / "scripts" / "serve")], env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if post(port, body[: body.index(b"\n") + 1], timeout=10)[0] == 200 and children(process.pid):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{(base / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.2)
        worker = children(process.pid)[0]
        before = status_kib(worker, "VmRSS")
        started = time.perf_counter()
        status, answer = post(port, body)
        seconds = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{name}: {status} {answer[:300]!r}")
        return {"name": name, "before": before, "peak": status_kib(worker, "VmHWM"),
                "arbiter": status_kib(process.pid, "VmHWM"), "seconds": seconds,
                "lines": answer.decode().splitlines()}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100)
    parser.add_argument("--model-dir", type=Path, default=REPO / ".cache" / "bench" / "model")
    args = parser.parse_args()
    args.model_dir.mkdir(parents=True, exist_ok=True)
    model = bench_model(args.model_dir)
    body = body_of(model, args.megabytes)
    rows = body.count(b"\n")
    body_mib = len(body) / MIB
    log(f"body: {body_mib:.1f} MiB, {rows} rows")
    with tempfile.TemporaryDirectory(prefix="batch-memory-") as work:
        results = [measure(name, args.model_dir, Path(work), body, batch)
                   for name, batch in (("batch", True), ("real-time", False))]
    batch, realtime = results
    if batch["lines"] != realtime["lines"] or len(batch["lines"]) != rows:
        print("MISMATCH: the batch answer differs from the real-time answer", file=sys.stderr)
        return 1
    print(f"{'stack':<10} {'body MiB':>8} {'rows':>9} {'RSS before':>10} {'peak':>8} {'growth':>8} "
          f"{'x body':>7} {'arbiter':>8} {'s':>6} {'rows/s':>9}")
    growth = {}
    for r in results:
        growth[r["name"]] = (r["peak"] - r["before"]) / 1024
        print(f"{r['name']:<10} {body_mib:>8.1f} {rows:>9} {r['before'] / 1024:>9.0f}M {r['peak'] / 1024:>7.0f}M "
              f"{growth[r['name']]:>7.0f}M {growth[r['name']] / body_mib:>7.2f} {r['arbiter'] / 1024:>7.0f}M "
              f"{r['seconds']:>6.1f} {rows / r['seconds']:>9.0f}")
    print(f"batch_peak_x_body={batch['peak'] / 1024 / body_mib:.2f} "
          f"batch_growth_x_body={growth['batch'] / body_mib:.2f} "
          f"realtime_growth_x_body={growth['real-time'] / body_mib:.2f} "
          f"batch_growth_vs_realtime={growth['batch'] / growth['real-time']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
