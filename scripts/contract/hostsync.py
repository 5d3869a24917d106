"""The end of a multi-instance job: no host leaves before every host's work is done; and the
hand-off of each host's part of a result to the leader, over the same connection.

SageMaker ends a multi-instance job when every host has exited (a host that exits 0 early just
idles; the job is billed to the end anyway). The SageMaker SDK's local mode runs the hosts under
`docker-compose up --abort-on-container-exit` instead: the first container to exit stops the
others. A host with no share of the data, or a training worker that leaves the model to the leader,
would then cut the leader off mid-work and the SDK reports success with an empty model. So every
host meets at a barrier on its way out, held by the leader (the first host in sorted order):

- the leader listens on the barrier port from its start; each other host connects at its start
  and says "done" when its work ends (successful or not);
- the leader, its own work done, waits until every connected host said done or went away, then
  closes the connections; each host leaves when its connection closes.

Under both readings a job then ends when the slowest host's work ends.

Hand-off (`hand_off(part)`): a job whose hosts each compute part of one result (forecast training:
each host fits its share of the series) sends every other host's part to the leader on that
connection, so that the leader alone writes the result. Nothing authoritative says whether a
multi-instance training job uploads only the leader's /opt/ml/model or every host's merged (the
SDK's local mode merges); with the leader writing everything, the artifact is the same under both.

Where the leader is: `SM_HOST_BARRIER_ADDRESS` (the local runner gives 127.0.0.1: its hosts are
processes, or host-network containers, of one machine), else the leader's host name (algo-1 on
SageMaker); the port: `SM_HOST_BARRIER_PORT` (default 7779). The barrier is skipped when there is
one host, when the leader cannot be found (its name does not resolve, no address given), and when
SM_HOST_BARRIER=off (the conformance tier shows with it what happens without the barrier); a
hand-off then fails with a message, since the parts could not meet.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from common.errors import ConfigError, StepError

DEFAULT_PORT = 7779
CONNECT_SECONDS = 300.0  # how long a host keeps trying to reach the leader (it may still be starting)
JOIN_SECONDS = 120.0  # how long the leader waits, from its start, for the other hosts to connect

# one frame: kind (1 byte), body length (8 bytes, big-endian), body
_HELLO, _PART, _DONE = b"H", b"P", b"D"
_HEADER = struct.Struct(">cQ")


class HandOffError(StepError):
    """A host's part did not reach the leader: the host failed, or could not reach the leader."""


def _port() -> int:
    return int(os.environ.get("SM_HOST_BARRIER_PORT", DEFAULT_PORT))


def _leader_address(leader: str) -> str | None:
    """Where the other hosts reach the leader, or None when it cannot be found."""
    given = os.environ.get("SM_HOST_BARRIER_ADDRESS")
    if given:
        return given
    try:
        socket.getaddrinfo(leader, _port(), type=socket.SOCK_STREAM)
        return leader
    except OSError:
        return None


def _send(connection: socket.socket, kind: bytes, body: bytes = b"") -> None:
    connection.sendall(_HEADER.pack(kind, len(body)) + body)


def _receive_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(connection: socket.socket) -> tuple[bytes, bytes] | None:
    header = _receive_exactly(connection, _HEADER.size)
    if header is None:
        return None
    kind, size = _HEADER.unpack(header)
    body = _receive_exactly(connection, size)
    return None if body is None else (kind, body)


class _Leader:
    def __init__(self, hosts: tuple[str, ...], current: str):
        self.current = current
        self.others = tuple(h for h in hosts if h != current)
        self.expected = len(self.others)
        self.server = socket.create_server(("", _port()), reuse_port=False)
        self.server.settimeout(0.5)
        self.connections: list[socket.socket] = []
        self.finished: set[int] = set()  # indexes of connections that said done or went away
        self.names: dict[int, str] = {}  # connection index -> the host it said it is
        self.parts: dict[str, bytes] = {}
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
            connection.settimeout(None)
            while (frame := _receive(connection)) is not None:
                kind, body = frame
                with self.lock:
                    if kind == _HELLO:
                        self.names[index] = body.decode("utf-8", "replace")
                    elif kind == _PART:
                        self.parts[self.names.get(index, f"connection-{index}")] = body
                if kind == _DONE:
                    break
        except OSError:
            pass
        with self.lock:
            self.finished.add(index)

    def _joined_late(self) -> bool:
        return len(self.connections) < self.expected and time.monotonic() - self.started < JOIN_SECONDS

    def gather(self, own: bytes) -> dict[str, bytes]:
        """Every host's part, the leader's own included; waits for each host's part or its end."""
        while True:
            with self.lock:
                named = {name: index for index, name in self.names.items()}
                unnamed_open = any(i not in self.names and i not in self.finished for i in range(len(self.connections)))
                missing = [h for h in self.others if h not in self.parts]
                late = self._joined_late()
                gone = [h for h in missing if h in named and named[h] in self.finished]
                never = [h for h in missing if h not in named]
                if not missing:
                    return {self.current: own, **{h: self.parts[h] for h in self.others}}
            waiting = len(gone) + len(never) < len(missing) or (never and (late or unnamed_open))
            if not waiting:
                why = []
                if gone:
                    why.append(f"{', '.join(gone)} ended without handing over a part (see that host's log)")
                if never:
                    why.append(f"{', '.join(never)} never reached the leader on port {_port()} within {JOIN_SECONDS:.0f} s")
                raise HandOffError("the leader is missing parts: " + "; ".join(why))
            time.sleep(0.1)

    def release(self) -> None:
        """Wait for every host that joined (and, for JOIN_SECONDS from the start, for the rest to join)."""
        while True:
            with self.lock:
                joined, finished = len(self.connections), len(self.finished)
            if finished == joined and not self._joined_late():
                break
            time.sleep(0.2)
        self.closing.set()
        for connection in self.connections:
            connection.close()
        self.server.close()
        print(f"hosts: {finished} of {self.expected} other host(s) done; the job may end", flush=True)


class _Member:
    """A host other than the leader: joins beside the work, so a leader out of reach delays nothing."""

    def __init__(self, address: str, current: str):
        self.address, self.current = address, current
        self.joined: list[socket.socket | None] = []
        self.joiner = threading.Thread(target=lambda: self.joined.append(self._join()), daemon=True)
        self.joiner.start()

    def _join(self) -> socket.socket | None:
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            try:
                connection = socket.create_connection((self.address, _port()), timeout=5)
                connection.settimeout(None)
                _send(connection, _HELLO, self.current.encode("utf-8"))
                return connection
            except OSError as error:
                if time.monotonic() > deadline:
                    print(f"hosts: leader {self.address} not reachable on port {_port()} ({error}); leaving without it",
                          flush=True)
                    return None
                time.sleep(0.5)

    def connection(self) -> socket.socket | None:
        self.joiner.join()
        return self.joined[0] if self.joined else None

    def send_part(self, part: bytes) -> None:
        connection = self.connection()
        if connection is None:
            raise HandOffError(f"{self.current} could not reach the leader at {self.address}:{_port()} to hand over its part")
        try:
            _send(connection, _PART, part)
        except OSError as error:
            raise HandOffError(f"{self.current} lost the leader while handing over its part ({error})") from None

    def leave(self) -> None:
        connection = self.connection()
        if connection is None:
            return
        try:
            _send(connection, _DONE)
            while connection.recv(16):  # until the leader closes: every host is done
                pass
        except OSError:
            pass
        connection.close()


_local = threading.local()  # the barrier the calling thread is inside (a host is a process; tests run hosts as threads)


def _active() -> dict:
    if not hasattr(_local, "state"):
        _local.state = {}
    return _local.state


@contextmanager
def job_end_barrier(hosts: tuple[str, ...], current: str) -> Iterator[None]:
    """Around a host's work: on the way out, wait until every host's work is done (see the module)."""
    leader = sorted(hosts)[0]
    off = os.environ.get("SM_HOST_BARRIER", "").lower() == "off"
    address = None if len(hosts) < 2 or off else _leader_address(leader)
    state = _active()
    state.clear()
    state.update(hosts=tuple(hosts), current=current, role=None,
                 why="SM_HOST_BARRIER=off" if off else f"the leader {leader} does not resolve")
    if address is None:
        try:
            yield
        finally:
            state.clear()
        return
    role = _Leader(tuple(hosts), current) if current == leader else _Member(address, current)
    state["role"] = role
    try:
        yield
    finally:
        state.clear()
        if isinstance(role, _Leader):
            role.release()
        else:
            role.leave()


def hand_off(part: bytes) -> dict[str, bytes] | None:
    """This host's part of a result to the leader. On the leader: {host: part} of every host (its own
    included), once each arrived; on any other host: None (the part is on its way). A host whose part
    cannot arrive (it failed, or the leader cannot be reached) makes the leader fail, naming it.
    Outside a barrier, or with one host: {this host: part}."""
    state = _active()
    hosts, current, role = state.get("hosts", ()), state.get("current"), state.get("role")
    if len(hosts) < 2:
        return {current or "algo-1": part}
    if role is None:
        raise ConfigError(f"{len(hosts)} hosts cannot hand their parts to the leader ({state['why']}): "
                          "give SM_HOST_BARRIER_ADDRESS, or run on one instance")
    if isinstance(role, _Leader):
        return role.gather(part)
    role.send_part(part)
    return None
