"""The control plane as a daemon that outlives the command that started it, as a real endpoint
outlives the pipeline that deployed it. Its state directory holds state.db, the port and pid files,
daemon.log, the artifact store and the hosts' serving trees."""

from __future__ import annotations

import fcntl
import http.client
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = Path("work") / "controlplane"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path(f"/proc/{pid}/stat").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except OSError:
        return False


def status(state_dir: Path = DEFAULT_STATE_DIR) -> dict | None:
    """{"pid", "port", "url"} of a running daemon, else None."""
    state_dir = Path(state_dir)
    pid, port = _read(state_dir / "pid"), _read(state_dir / "port")
    if not (pid and port and pid.isdigit() and port.isdigit()):
        return None
    if not _alive(int(pid)) or not _answers(int(port)):
        return None
    return {"pid": int(pid), "port": int(port), "url": f"http://127.0.0.1:{port}"}


@contextmanager
def _locked(state_dir: Path):
    """One starter at a time: two commands racing to start the daemon start one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "daemon.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_running(state_dir: Path = DEFAULT_STATE_DIR, engine: str = "process", timeout: float = 180) -> str:
    """The base URL of the control plane of state_dir, starting its daemon if none answers."""
    state_dir = Path(state_dir).resolve()
    with _locked(state_dir):
        running = status(state_dir)
        if running:
            return running["url"]
        (state_dir / "pid").unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(REPO / "scripts"), env.get("PYTHONPATH")]))
        with open(state_dir / "daemon.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "localrun.controlplane", "run", "--state-dir", str(state_dir), "--engine", engine],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own session: Ctrl-C or the end of `make run` does not reach it
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (state_dir / "daemon.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the control plane exited with code {process.returncode}:\n{tail}")
            running = status(state_dir)
            if running and running["pid"] == process.pid:
                return running["url"]
            time.sleep(0.1)
        process.terminate()
        raise RuntimeError(f"the control plane did not answer within {timeout:.0f} s; see {state_dir / 'daemon.log'}")


def stop(state_dir: Path = DEFAULT_STATE_DIR, timeout: float = 90) -> bool:
    """SIGTERM the daemon, which stops its hosts (endpoints stay in the state and come back on the next
    start); True if one was running."""
    state_dir = Path(state_dir).resolve()
    pid = _read(state_dir / "pid")
    if not (pid and pid.isdigit() and _alive(int(pid))):
        return False
    os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(int(pid)):
        if time.monotonic() > deadline:
            os.kill(int(pid), signal.SIGKILL)
            break
        time.sleep(0.1)
    return True


def run(state_dir: Path, engine: str = "process", port: int | None = None) -> None:
    """The daemon's body: serve until SIGTERM, then stop every host."""
    from .server import ControlPlane

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state_dir = Path(state_dir).resolve()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    control = ControlPlane(state_dir, engine_name=engine)
    previous = _read(state_dir / "port")
    url = control.start(port or (int(previous) if previous and previous.isdigit() else 0))
    _write(state_dir / "port", str(control.server.server_address[1]))
    _write(state_dir / "pid", str(os.getpid()))
    logging.getLogger("controlplane").info("control plane on %s, state in %s, engine %s", url, state_dir, engine)
    stopping.wait()
    control.stop()
    if _read(state_dir / "pid") == str(os.getpid()):
        (state_dir / "pid").unlink(missing_ok=True)
