"""One lineage manifest per run, and the questions it answers.

    <run>/lineage.json   pipeline, parameters, code (git commit, dirty flag), engine, and per step:
                         inputs and outputs with SHA-256, code version, image, arguments, hosts,
                         start and end, status (succeeded, cached, failed), the cache key

`python -m localrun runs` lists runs; `python -m localrun lineage MODEL` (a model.tar.gz or its
SHA-256) says which run, data, code and parameters made a model.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

from common.storage import sha256_file

FILE = "lineage.json"


def git_version(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"git_commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "dirty": None}


class Recorder:
    def __init__(self, run_dir: Path, header: dict[str, Any]):
        self.path = Path(run_dir) / FILE
        self.manifest = {**header, "run": str(run_dir), "started": time.time(), "status": "running", "steps": []}
        self._write()

    def step(self, entry: dict[str, Any]) -> None:
        self.manifest["steps"].append(entry)
        self._write()

    def finish(self, status: str, **details: Any) -> None:
        self.manifest.update(status=status, ended=time.time(), **details)
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{FILE}.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, default=str))
        os.replace(tmp, self.path)


def manifests(work_dir: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((Path(work_dir) / "runs").glob(f"*/{FILE}")):
        try:
            yield json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue


def find_model(work_dir: Path, model: str) -> dict[str, Any] | None:
    """The run and step whose output holds this model.tar.gz (a path or a SHA-256), with its upstream."""
    sha = sha256_file(Path(model)) if Path(model).is_file() else model.lower()
    for manifest in manifests(work_dir):
        for entry in manifest["steps"]:
            for name, output in (entry.get("outputs") or {}).items():
                match = [v for v in output["files"].values() if v.startswith(sha)]
                if match and len(sha) >= 8 and entry["status"] == "succeeded":
                    return {"model_sha256": match[0], "run": manifest, "step": entry, "upstream": _upstream(manifest, entry)}
    return None


def _upstream(manifest: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step whose outputs fed this one, transitively, from the same run."""
    by_output = {o["sha256"]: s for s in manifest["steps"] for o in (s.get("outputs") or {}).values()}
    chain, todo, seen = [], [entry], set()
    while todo:
        current = todo.pop()
        for item in current["inputs"].values():
            producer = by_output.get(item["sha256"])
            if producer and producer["step"] not in seen:
                seen.add(producer["step"])
                chain.append(producer)
                todo.append(producer)
    return chain


def describe(found: dict[str, Any]) -> str:
    run, step = found["run"], found["step"]
    lines = [
        f"model {found['model_sha256']}",
        f"  run        {run['run']} ({run['status']}, pipeline {run['pipeline']}, engine {run['engine']})",
        f"  code       git {run['code'].get('git_commit')}{' (dirty)' if run['code'].get('dirty') else ''}; "
        f"{step['step']} ran {step['code_version']}",
        f"  parameters {json.dumps(run['parameters'], sort_keys=True)}",
        f"  {step['step']:<10} {step['status']}{' from ' + step['cached_from'] if step.get('cached_from') else ''}, "
        f"arguments {json.dumps(step['arguments'], sort_keys=True)}",
    ]
    for upstream in [step, *found["upstream"]]:
        for name, item in upstream["inputs"].items():
            lines.append(f"  input      {upstream['step']}.{name} sha256 {item['sha256'][:16]}… {item['uri']}")
    data = run.get("data")
    if data:
        lines.append(f"  data       {data['path']} sha256 {data['sha256']}")
    return "\n".join(lines)
