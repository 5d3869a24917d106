"""Hosts: a model's serving tree run by an engine on its own port, and fleets of them per variant.

The artifact store keeps each model.tar.gz the control plane was given under its SHA-256, so an
endpoint can be restarted after the file it was created from has gone. A host is healthy once
`/ping` answers 200 and a smoke request built from the model directory answers 200.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse


from .protocol import validation

log = logging.getLogger("controlplane")

# (content type, body) for a request the model must answer 200; None: /ping alone decides
SmokeRequest = Callable[[Path], "tuple[str, bytes] | None"]


def sample_rows_request(model_dir: Path) -> tuple[str, bytes] | None:
    """The artifact's own sample rows (metadata.json "sample_rows") as CSV with a header."""
    try:
        rows = json.loads((Path(model_dir) / "metadata.json").read_text())["sample_rows"]
    except (OSError, ValueError, KeyError):
        return None
    if not rows:
        return None
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return "text/csv", out.getvalue().encode()


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def add(self, model_data_url: str) -> str:
        """Copy a local model.tar.gz (`file://` URL or plain path) in; returns its SHA-256."""
        source = local_path(model_data_url)
        if not source.is_file():
            raise validation(f"Could not access model data at {model_data_url}: no such file")
        digest = hashlib.sha256()
        with open(source, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sha = digest.hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        return sha

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / f"{sha}.tar.gz"


def local_path(url: str) -> Path:
    if url.startswith("s3://"):
        raise validation(f"{url}: the local control plane reads model data from file:// URLs or local paths")
    return Path(unquote(urlparse(url).path)) if url.startswith("file://") else Path(url)


@dataclass
class Host:
    variant: str
    port: int
    tree: Path
    handle: object
    ref: str = ""

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def stop(self) -> None:
        try:
            self.handle.stop()
        except Exception as exc:  # a host that is already gone is stopped
            log.warning("stopping host %s on port %d: %s", self.tree, self.port, exc)


@dataclass
class Variant:
    name: str
    weight: float
    hosts: list[Host]
    model_name: str = ""
    next_host: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self) -> Host:
        with self.lock:  # round robin over the variant's instances
            host = self.hosts[self.next_host % len(self.hosts)]
            self.next_host += 1
        return host


@dataclass
class Fleet:
    """The hosts of one endpoint config: every production variant with its instances."""

    config_name: str
    variants: list[Variant]

    def hosts(self) -> list[Host]:
        return [host for variant in self.variants for host in variant.hosts]

    def stop(self) -> None:
        threads = [threading.Thread(target=host.stop) for host in self.hosts()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


class HostFailed(Exception):
    """A host that did not turn healthy or failed its smoke request; the message says why."""


def ping(host: Host, timeout: float = 2.0) -> tuple[int | None, bytes]:
    try:
        connection = http.client.HTTPConnection(*host.address, timeout=timeout)
        try:
            connection.request("GET", "/ping")
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
    except OSError as exc:
        return None, str(exc).encode()


def wait_ready(host: Host, smoke: SmokeRequest, deadline: float, cancelled: Callable[[], bool] = lambda: False) -> None:
    """/ping 200, then the smoke request 200; raises HostFailed with the reason."""
    process = getattr(host.handle, "process", None)
    last = "no answer"
    while True:
        if cancelled():
            raise HostFailed("cancelled")
        if process is not None and process.poll() is not None:
            raise HostFailed(f"serve exited with code {process.returncode} before turning healthy")
        status, body = ping(host)
        if status == 200:
            break
        if status == 503 and _failed(body):  # our server says the model will never load
            raise HostFailed(f"/ping: {body[:500].decode(errors='replace')}")
        last = f"HTTP {status}: {body[:300].decode(errors='replace')}" if status else body.decode(errors="replace")
        if time.monotonic() > deadline:
            raise HostFailed(f"/ping not healthy in time (last: {last})")
        time.sleep(0.2)
    request = smoke(host.tree / "model")
    if request is None:
        return
    content_type, body = request
    status, answer = post(host, "/invocations", body, {"Content-Type": content_type, "Accept": "application/json"})
    if status != 200:
        raise HostFailed(f"smoke request on the model's sample rows answered {status}: {answer[:300]!r}")


def _failed(body: bytes) -> bool:
    try:
        return json.loads(body).get("status") == "failed"
    except (ValueError, AttributeError):
        return False


def post(host: Host, path: str, body: bytes, headers: dict, timeout: float = 60) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(*host.address, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
