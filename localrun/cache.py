"""Step caching, as SageMaker Pipelines caches steps: skip a step whose inputs, code and
parameters are unchanged, and hand on the outputs of the run that made them.

Locally the key is the content hash of every input, the code (the scripts/ tree, or the image ID
under Docker) and the arguments. SageMaker keys on the request instead (S3 URIs, image URI,
arguments), so there a new object at the same S3 URI is still a cache hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping


def prefix_files(root: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file under an S3-like prefix."""
    files = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        files[str(path.relative_to(root))] = digest.hexdigest()
    return files


def prefix_sha256(files: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()


def step_key(step_name: str, script: str, code_version: str, arguments: Mapping[str, Any],
             instance_count: int, input_hashes: Mapping[str, str]) -> str:
    text = json.dumps({
        "step": step_name, "script": script, "code": code_version, "arguments": dict(arguments),
        "instance_count": instance_count, "inputs": dict(input_hashes),
    }, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class StepCache:
    """<work>/cache/<key>.json -> the outputs (prefixes and file hashes) of the run that made them."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def lookup(self, key: str) -> dict[str, Any] | None:
        path = self.directory / f"{key}.json"
        if not path.is_file():
            return None
        entry = json.loads(path.read_text())
        for name, output in entry["outputs"].items():  # a deleted or altered run is no cache
            if not Path(output["uri"]).is_dir() or prefix_files(Path(output["uri"])) != output["files"]:
                return None
        return entry

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{key}.json.tmp"
        tmp.write_text(json.dumps(entry, indent=2))
        os.replace(tmp, self.directory / f"{key}.json")


def copy_prefix(source: Path, destination: Path) -> Path:
    """The cached prefix into this run's S3: hard links where the filesystem allows (read-only use)."""
    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, destination, copy_function=link, dirs_exist_ok=True)
    return destination
