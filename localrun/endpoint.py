"""A local endpoint: the model of a run served as SageMaker serves it, then asked for predictions.

SageMaker unpacks model.tar.gz into /opt/ml/model and runs `serve`; so does this, in a
serving tree under the run directory, with the engine's `serve` (a process or a container).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from contract import modeltar


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lay_out_serving(model_tar: Path, tree: Path) -> Path:
    modeltar.extract(model_tar, tree / "model")
    return tree


def wait_healthy(url: str, timeout: float = 120.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"serve exited with code {process.returncode} before turning healthy")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read()[:300].decode(errors='replace')}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise RuntimeError(f"{url}/ping not healthy after {timeout:.0f} s (last: {last})")


def invoke(url: str, body: bytes, content_type: str = "text/csv", accept: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, method="POST", headers={"Content-Type": content_type, "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@contextmanager
def local_endpoint(engine, model_tar: Path, tree: Path) -> Iterator[str]:
    """Serve the model on 127.0.0.1 until the block ends; yields the base URL."""
    lay_out_serving(model_tar, tree)
    port = free_port()
    server = engine.serve(tree, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process=getattr(server, "process", None))
        yield url
    finally:
        server.stop()


def score_rows(url: str, rows) -> list[dict]:
    status, body = invoke(url, rows.to_csv(index=False).encode())
    if status != 200:
        raise RuntimeError(f"/invocations answered {status}: {body[:500]}")
    return json.loads(body)["predictions"]
