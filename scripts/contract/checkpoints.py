"""Checkpoints for spot-safe training: atomic files in the job's checkpoint directory.

SageMaker syncs the directory to S3 and restores it when a spot job restarts, so a
checkpoint is only ever seen whole (temporary name + rename) and carries a fingerprint
of what it was trained on: resuming someone else's run is an error, not a silent mix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import joblib

from common.errors import ConfigError
from common.storage import atomic_path

_NAME = re.compile(r"^checkpoint-(\d{6})\.joblib$")


class CheckpointStore:
    def __init__(self, directory: Path, fingerprint: str, keep: int = 2):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.keep = keep

    def _files(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found)

    def save(self, step: int, state: Any) -> Path:
        path = self.directory / f"checkpoint-{step:06d}.joblib"
        with atomic_path(path) as tmp:
            joblib.dump({"fingerprint": self.fingerprint, "step": step, "state": state}, tmp)
        for _, old in self._files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> tuple[int, Any] | None:
        """The newest checkpoint's (step, state), or None for a fresh start."""
        files = self._files()
        if not files:
            return None
        step, path = files[-1]
        try:
            saved = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is reported the same way
            raise ConfigError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc})") from None
        if saved.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                f"checkpoint {path} belongs to a run with other data or parameters; "
                "use an empty checkpoint location for a new run"
            )
        return step, saved["state"]
