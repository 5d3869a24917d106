"""Memory of one large Batch Transform request: the worker's peak RSS growth, bounded by a multiple of the body.

The issue's bound is 20x the body; the batch path measured 2.4x for 100 MB (bench/serve_batch_memory_bench.py),
the real-time path 9.9x. The default tier sends 20 MB (fixed costs of the 4 MiB slices weigh more there: 5.7x
measured), the hardening tier the full 100 MB.
"""

from pathlib import Path

import pytest

from contract.serving import MIB
from serve_process import Server, serving_tree


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def workers(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


@pytest.mark.parametrize("megabytes, bound", [
    (20, 8.0),
    pytest.param(100, 4.0, marks=pytest.mark.hardening),
])
def test_a_large_csv_request_costs_a_bounded_multiple_of_its_size(tmp_path, model_dir, model, lending_club,
                                                                  megabytes, bound):
    unit = lending_club[list(model.schema.features)].to_csv(index=False, header=False).encode()
    body = unit * (megabytes * MIB // len(unit))
    srv = Server(serving_tree(tmp_path, model_dir), SAGEMAKER_BATCH="true", SAGEMAKER_MODEL_SERVER_WORKERS="1",
                 SAGEMAKER_MAX_PAYLOAD_IN_MB="100")
    try:
        srv.wait_for(200)
        (worker,) = workers(srv.process.pid)
        before = status_kib(worker, "VmRSS")
        status, answer, _ = srv.request("POST", "/invocations", body, {"Content-Type": "text/csv",
                                                                       "Accept": "text/csv"})
        assert status == 200, answer[:300]
        assert answer.count(b"\n") + 1 == body.count(b"\n")
        growth = (status_kib(worker, "VmHWM") - before) * 1024
        print(f"{len(body) / MIB:.0f} MiB body: worker peak RSS grew {growth / MIB:.0f} MiB "
              f"({growth / len(body):.2f}x the body)")
        assert growth < bound * len(body)
    finally:
        srv.stop()
