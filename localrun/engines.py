"""How a job's host runs locally: as a process on this machine, or in its image under Docker.

One small interface, as kubeflow's local runner has: `run(job, tree, host) -> exit code`, plus
`serve(tree, port, environment)` for endpoints and transforms and `code_version(step)` for the step cache. Both engines give
the step the same /opt/ml tree and the same command the platform would (jobs.py says which).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Protocol

from pipeline import spec

from .jobs import PROGRAM_DIR, Job, kind_of

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


class Engine(Protocol):
    code_dir: str  # what training's sagemaker_submit_directory points at

    def run(self, job: Job, tree: Path, host: str) -> int: ...

    def serve(self, tree: Path, port: int, environment: dict[str, str] | None = None,
              log: Path | None = None):  # -> a handle with stop() and process (None in a container)
        ...

    def code_version(self, step: spec.Step) -> str: ...

    def stop_all(self) -> None: ...


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    return env


def tree_sha256(root: Path) -> str:
    """A content hash of every file below root (paths and bytes), caches and dotfiles left out."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(str(relative).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class ProcessEngine:
    """Each host as a child process in its own session, SAGEMAKER_BASE_DIR at its tree."""

    code_dir = str(SCRIPTS)

    def __init__(self) -> None:
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def code_version(self, step: spec.Step) -> str:  # noqa: ARG002 - every step runs the same scripts/
        return "scripts:" + tree_sha256(SCRIPTS)

    def run(self, job: Job, tree: Path, host: str) -> int:  # noqa: ARG002 - the tree says which host
        process = self.start(job, tree)
        try:
            return process.wait()
        finally:
            with self._lock:
                self._running.discard(process)

    def start(self, job: Job, tree: Path) -> subprocess.Popen:
        argv, extra = kind_of(job.step).local_command(job, tree, SCRIPTS)
        env = {**_base_env(), **extra, "SAGEMAKER_BASE_DIR": str(tree)}
        # its own session: Ctrl-C in the terminal reaches the runner, which stops the job as SageMaker would
        process = subprocess.Popen([sys.executable, *argv[1:]], env=env, cwd=tree, start_new_session=True)
        with self._lock:
            self._running.add(process)
        return process

    def stop_all(self, grace: float = 30.0) -> None:
        """SIGTERM to every running job's process group, SIGKILL after the grace period: StopProcessingJob."""
        with self._lock:
            running = list(self._running)
        for process in running:
            _signal_group(process, signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def serve(self, tree: Path, port: int, environment: dict[str, str] | None = None,
              log: Path | None = None) -> "ServerProcess":
        """`scripts/serve` on 127.0.0.1:port. environment: what SageMaker gives the container (the Model's
        Environment, a transform's SAGEMAKER_BATCH...); None: an endpoint's smoke test, one worker."""
        env = _base_env()
        # a few rows to score: one worker starts fastest; a given environment keeps the platform's default
        env.update({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"} if environment is None else environment)
        env.update({"SAGEMAKER_BASE_DIR": str(tree), "SAGEMAKER_BIND_TO_PORT": str(port), "SERVING_HOST": "127.0.0.1"})
        if log is None:
            return ServerProcess(subprocess.Popen([sys.executable, str(SCRIPTS / "serve")], env=env, cwd=tree))
        with open(log, "ab") as stream:  # what CloudWatch would hold
            return ServerProcess(subprocess.Popen([sys.executable, str(SCRIPTS / "serve")], env=env, cwd=tree,
                                                  stdout=stream, stderr=subprocess.STDOUT))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class ServerProcess:
    def __init__(self, process: subprocess.Popen):
        self.process = process

    def stop(self) -> None:
        """SIGTERM, as SageMaker sends it; the server drains and exits."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


__all__ = ["Engine", "ProcessEngine", "PROGRAM_DIR", "REPO", "SCRIPTS", "ServerProcess", "tree_sha256"]
