"""A bounded soak of the serving stack on 127.0.0.1: good and bad requests mixed, for 60 s (SOAK_SECONDS).

Asserted: no 5xx, no failed connection, the same workers at the end as at the start, RSS growth
under 10% after warm-up. Reported (never asserted): throughput and latency percentiles per window.
"""

import json
import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from serve_process import Server, request, serving_tree, wait_until

pytestmark = pytest.mark.hardening
SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WINDOWS = 6


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def requests_mix(rows, features):
    frame = rows[list(features)]
    good_one = frame.head(1).to_csv(index=False, header=False).encode()
    good_many = frame.head(200).to_csv(index=False).encode()
    good_json = json.dumps(json.loads(frame.head(20).to_json(orient="records"))).encode()
    bad_fields = b"1,2,3\n"
    bad_number = frame.head(1).to_csv(index=False).replace(",", ",x", 1).encode()
    return [  # (weight, method, path, body, headers, expected status)
        (30, "POST", "/invocations", good_one, {"Content-Type": "text/csv"}, 200),
        (10, "POST", "/invocations", good_many, {"Content-Type": "text/csv", "Accept": "text/csv"}, 200),
        (15, "POST", "/invocations", good_json, {"Content-Type": "application/json"}, 200),
        (10, "POST", "/invocations", bad_fields, {"Content-Type": "text/csv"}, 400),
        (5, "POST", "/invocations", bad_number, {"Content-Type": "text/csv"}, 400),
        (5, "POST", "/invocations", b"{nope", {"Content-Type": "application/json"}, 400),
        (5, "POST", "/invocations", b"x", {"Content-Type": "image/png"}, 415),
        (3, "POST", "/invocations", b"x" * 1_200_000, {"Content-Type": "text/csv"}, 413),
        (5, "GET", "/ping", None, {}, 200),
    ]


def test_serving_soak(tmp_path, model_dir, model, rows):
    server = Server(serving_tree(tmp_path, model_dir), SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    try:
        server.wait_for(200)
        # /ping answers once one worker serves; gunicorn forks the second a moment later
        wait_until(lambda: len(children(server.process.pid)) == 2, "both workers forked")
        workers = children(server.process.pid)
        mix = requests_mix(rows, model.schema.features)
        weights = [m[0] for m in mix]
        results, failures = [], []
        start = time.monotonic()
        rss_samples = []

        def client(seed):
            rng = random.Random(seed)
            while (now := time.monotonic()) - start < SECONDS:
                _, method, path, body, headers, want = rng.choices(mix, weights)[0]
                began = time.perf_counter()
                try:
                    status, payload, _ = request(server.port, method, path, body, headers)
                except OSError as exc:
                    failures.append(f"{method} {path}: {exc!r}")
                    continue
                results.append((now - start, time.perf_counter() - began, status, want))
                if status != want:
                    failures.append(f"{method} {path}: {status} (wanted {want}) {payload[:200]!r}")

        threads = [threading.Thread(target=client, args=(seed,)) for seed in (1, 2)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            pids = [server.process.pid, *children(server.process.pid)]
            rss_samples.append((time.monotonic() - start, sum(rss_kib(p) for p in pids)))
            time.sleep(1)
        for thread in threads:
            thread.join()
        end_workers = children(server.process.pid)
    finally:
        assert server.stop() == 0

    statuses = np.array([r[2] for r in results])
    latency = np.array([r[1] for r in results]) * 1000
    elapsed = np.array([r[0] for r in results])
    print(f"\nsoak {SECONDS:.0f} s: {len(results)} requests, {len(failures)} failures, "
          f"status counts {dict(zip(*np.unique(statuses, return_counts=True)))}")
    print(f"{'window':>8} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8}")
    edges = np.linspace(0, SECONDS, WINDOWS + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (elapsed >= lo) & (elapsed < hi)
        rss = [kib for t, kib in rss_samples if lo <= t < hi] or [0]
        print(f"{lo:6.0f}-{hi:<3.0f}{inside.sum():9d} {inside.sum() / (hi - lo):7.1f} "
              f"{np.percentile(latency[inside], 50):8.2f} {np.percentile(latency[inside], 99):8.2f} "
              f"{max(rss) / 1024:8.1f}")
    warm = [kib for t, kib in rss_samples if t >= SECONDS / WINDOWS]
    growth = (warm[-1] - warm[0]) / warm[0]
    print(f"rss_growth={growth:.4f} p99_ms={np.percentile(latency, 99):.2f} requests={len(results)}")
    assert not failures, failures[:10]
    assert not (statuses >= 500).any()
    assert end_workers == workers, "a worker was lost or restarted"
    assert growth < 0.10, f"RSS grew {growth:.1%} after warm-up"
