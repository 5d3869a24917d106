"""The SageMaker SDK lives in .venv-pipelines (it needs protobuf<7, the training image pins 7):
definitions are compiled in a subprocess of that environment; the checks run here, on botocore."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINES_PYTHON = REPO / ".venv-pipelines" / "bin" / "python"


def pipelines_python() -> Path:
    if not PIPELINES_PYTHON.exists():
        message = f"{PIPELINES_PYTHON} is missing: `make pipelines-setup` installs the SageMaker SDK there"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PIPELINES_PYTHON


def run_pipelines_python(args: list[str], cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(pipelines_python()), *args], cwd=cwd, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, **(env or {})})


def compile_cli(*options: str, cwd: Path = REPO, env: dict | None = None) -> str:
    """`python -m pipelines definition` in the SDK's environment: the definition's text."""
    result = run_pipelines_python(["-m", "pipelines", "definition", *options], cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict[str, str]:
    """Every definition the tests check (pipelines_compile_all.py), from one process: name -> text."""
    out = tmp_path_factory.mktemp("definitions")
    result = run_pipelines_python([str(Path(__file__).with_name("pipelines_compile_all.py")), str(out)])
    assert result.returncode == 0, result.stderr[-3000:]
    return {path.stem: path.read_text() for path in out.glob("*.json")}


@pytest.fixture(scope="session")
def definition_text(compiled) -> str:
    return compiled["default"]


@pytest.fixture(scope="session")
def definition(definition_text) -> dict:
    return json.loads(definition_text)
