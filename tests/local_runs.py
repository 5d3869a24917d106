"""Whole local pipelines as `make run` runs them (python -m localrun), shared by the tests that need
one: each run costs minutes, so tests that only read a run's outputs share the session's runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "tests" / "data" / "penguins.csv"
PENGUIN_ARGS = ("--data", str(PENGUINS), "--target", "sex", "--positive-label", "female", "-p", "n_estimators=20")


def run_pipeline(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localrun", "--work-dir", str(work), *args],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )


def summary_of(work: Path) -> dict:
    return json.loads((work / "latest" / "summary.json").read_text())


def penguin_runs(work: Path) -> list[tuple[dict, Path]]:
    """The same pipeline three times: first, unchanged, then with one hyperparameter changed.
    Each entry: (summary, run directory)."""
    runs = []
    for extra in ((), (), ("-p", "learning_rate=0.1")):
        result = run_pipeline(work, *PENGUIN_ARGS, *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append((summary_of(work), (work / "latest").resolve()))
    return runs
