"""How a step runs locally: as a process on this machine, or in its image under Docker.

One small interface, as kubeflow's local runner has: `run(step, tree, host) -> exit code`.
Both engines give the step the same /opt/ml tree and the same command the platform would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from .trees import Step

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
PROGRAM_DIR = "/opt/program"  # where the images keep scripts/


class Engine(Protocol):
    code_dir: str  # what training's sagemaker_submit_directory points at

    def processing_entrypoint(self, step: Step) -> list[str]: ...

    def run(self, step: Step, tree: Path, host: str) -> int: ...

    def serve(self, tree: Path, port: int):  # -> a handle with stop()
        ...


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")})
    return env


class ProcessEngine:
    """Each step as a child process with SAGEMAKER_BASE_DIR at its tree; training via the real toolkit."""

    code_dir = str(SCRIPTS)

    def processing_entrypoint(self, step: Step) -> list[str]:
        return ["python3", f"{PROGRAM_DIR}/{step.script}"]

    def run(self, step: Step, tree: Path, host: str) -> int:
        return self.start(step, tree).wait()

    def start(self, step: Step, tree: Path) -> subprocess.Popen:
        env = _base_env()
        env["SAGEMAKER_BASE_DIR"] = str(tree)
        if step.kind == "training":
            # the toolkit resolves every host by DNS; algo-N only resolve inside a SageMaker network
            env.update({"SAGEMAKER_PROGRAM": step.script, "SM_STUDIO_LOCAL_MODE": "true"})
            command = [sys.executable, "-m", "contract.launch"]
            env["PYTHONPATH"] = str(SCRIPTS)
        else:
            arguments = _processing_arguments(tree)
            command = [sys.executable, str(SCRIPTS / step.script), *arguments]
        return subprocess.Popen(command, env=env, cwd=tree)

    def serve(self, tree: Path, port: int) -> ServerProcess:
        env = _base_env()
        env.update({"SAGEMAKER_BASE_DIR": str(tree), "SAGEMAKER_BIND_TO_PORT": str(port), "SERVING_HOST": "127.0.0.1"})
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = "1"  # a few rows to score: one worker starts fastest
        return ServerProcess(subprocess.Popen([sys.executable, str(SCRIPTS / "serve")], env=env, cwd=tree))


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


def _processing_arguments(tree: Path) -> list[str]:
    config = json.loads((tree / "config" / "processingjobconfig.json").read_text())
    return list(config["AppSpecification"].get("ContainerArguments") or [])
