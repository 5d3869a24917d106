"""The end of a multi-instance job: no host leaves before every host's work is done.

SageMaker ends a multi-instance job when every host has exited (a host that exits 0 early just
idles; the job is billed to the end anyway). The SageMaker SDK's local mode runs the hosts under
`docker-compose up --abort-on-container-exit` instead: the first container to exit stops the
others. A host with no share of the data, or a training worker that leaves the model to the leader,
would then cut the leader off mid-work and the SDK reports success with an empty model. So every
host meets at a barrier on its way out, held by the leader (the first host in sorted order):

- the leader listens on BARRIER_PORT from its start; each other host connects at its start and
  says "done" when its work ends (successful or not);
- the leader, its own work done, waits until every connected host said done or went away, then
  closes the connections; each host leaves when its connection closes.

Under both readings a job then ends when the slowest host's work ends. The barrier is skipped
when there is one host, or when the leader's name does not resolve (this project's local runner
runs hosts as processes of one machine: it waits for all of them itself), and when
SM_HOST_BARRIER=off (the conformance tier shows with it what happens without the barrier).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_PORT = 7779
CONNECT_SECONDS = 300.0  # how long a host keeps trying to reach the leader (it may still be starting)
JOIN_SECONDS = 120.0  # how long the leader waits, from its start, for the other hosts to connect


def _port() -> int:
    return int(os.environ.get("SM_HOST_BARRIER_PORT", DEFAULT_PORT))


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, _port(), type=socket.SOCK_STREAM)
        return True
    except OSError:
        return False


class _Leader:
    def __init__(self, expected: int):
        self.expected = expected
        self.server = socket.create_server(("", _port()), reuse_port=False)
        self.server.settimeout(0.5)
        self.connections: list[socket.socket] = []
        self.finished: set[int] = set()  # indexes of connections that said done or went away
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set() and len(self.connections) < self.expected:
            try:
                connection, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                index = len(self.connections)
                self.connections.append(connection)
            threading.Thread(target=self._watch, args=(index, connection), daemon=True).start()

    def _watch(self, index: int, connection: socket.socket) -> None:
        try:
            connection.recv(16)  # "done", or b"" when the host went away
        except OSError:
            pass
        with self.lock:
            self.finished.add(index)

    def release(self) -> None:
        """Wait for every host that joined (and, for JOIN_SECONDS from the start, for the rest to join)."""
        while True:
            with self.lock:
                joined, finished = len(self.connections), len(self.finished)
            late = joined < self.expected and time.monotonic() - self.started < JOIN_SECONDS
            if finished == joined and not late:
                break
            time.sleep(0.2)
        self.closing.set()
        for connection in self.connections:
            connection.close()
        self.server.close()
        print(f"hosts: {finished} of {self.expected} other host(s) done; the job may end", flush=True)


def _join(leader: str) -> socket.socket | None:
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            return socket.create_connection((leader, _port()), timeout=5)
        except OSError as error:
            if time.monotonic() > deadline:
                print(f"hosts: leader {leader} not reachable on port {_port()} ({error}); leaving without it", flush=True)
                return None
            time.sleep(0.5)


@contextmanager
def job_end_barrier(hosts: tuple[str, ...], current: str) -> Iterator[None]:
    """Around a host's work: on the way out, wait until every host's work is done (see the module)."""
    leader = sorted(hosts)[0]
    if len(hosts) < 2 or os.environ.get("SM_HOST_BARRIER", "").lower() == "off" or not _resolves(leader):
        yield
        return
    if current == leader:
        coordinator = _Leader(len(hosts) - 1)
        try:
            yield
        finally:
            coordinator.release()
        return
    # joined beside the work, so a leader out of reach (a VPC without self-ingress, say) delays nothing
    joined: list[socket.socket | None] = []
    joiner = threading.Thread(target=lambda: joined.append(_join(leader)), daemon=True)
    joiner.start()
    try:
        yield
    finally:
        joiner.join()
        connection = joined[0] if joined else None
        if connection is not None:
            try:
                connection.sendall(b"done")
                connection.settimeout(None)
                while connection.recv(16):  # until the leader closes: every host is done
                    pass
            except OSError:
                pass
            connection.close()
