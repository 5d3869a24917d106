"""A real `scripts/serve` process on 127.0.0.1 with its own SAGEMAKER_BASE_DIR, and a tiny HTTP client."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "scripts" / "serve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, bytes, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type", "")
    finally:
        connection.close()


def _tcp_sockets() -> list[tuple[str, str, str, int]]:
    """(local, remote, state, inode) of every IPv4 TCP socket, from /proc/net/tcp (Linux)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return [(f[1], f[2], f[3], int(f[9])) for f in (line.split() for line in lines)]


def _loopback(port: int) -> str:
    return f"0100007F:{port:04X}"


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def wait_until(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Server:
    """`scripts/serve` in a subprocess with its own SAGEMAKER_BASE_DIR; stderr goes to a log file."""

    def __init__(self, base_dir: Path, **env: str):
        self.port = free_port()
        self.log_path = base_dir / "serve.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
        environment.update({"SAGEMAKER_BASE_DIR": str(base_dir), "SERVING_HOST": "127.0.0.1",
                            "SAGEMAKER_BIND_TO_PORT": str(self.port), "SAGEMAKER_MODEL_SERVER_WORKERS": "2", **env})
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, str(SERVE), "serve"], env=environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        return request(self.port, method, path, body, headers)

    def ping(self) -> int | None:
        try:
            return self.request("GET", "/ping")[0]
        except OSError:
            return None

    def wait_for(self, status: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping() == status:
                return
            assert self.process.poll() is None, f"serve exited with {self.process.returncode}:\n{self.log()}"
            time.sleep(0.05)
        raise AssertionError(f"/ping never answered {status} within {timeout} s:\n{self.log()}")

    def accepted(self, client: socket.socket) -> bool:
        """Whether a worker has accept()ed this client's connection: the kernel gives the server's end
        of a connection an inode only then; before, it waits in the listen backlog with inode 0."""
        server, peer = _loopback(self.port), _loopback(client.getsockname()[1])
        return any(inode for local, remote, _, inode in _tcp_sockets() if (local, remote) == (server, peer))

    def arbiter_listens(self) -> bool:
        """Whether this process (gunicorn's arbiter) still holds the listening socket; on SIGTERM it closes
        it and, in the same call, sends SIGTERM to the workers (which keep their own copy until they exit)."""
        listening = {inode for local, _, state, inode in _tcp_sockets() if local == _loopback(self.port)
                     and state == "0A"}
        return bool(listening & _socket_inodes(self.process.pid))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def serving_tree(tmp_path: Path, model_dir: Path) -> Path:
    """A SageMaker serving layout: <base>/model holds the artifact."""
    shutil.copytree(model_dir, tmp_path / "model")
    return tmp_path
