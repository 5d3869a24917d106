"""Checkpoints for spot-safe training: atomic files in the job's checkpoint directory.

SageMaker syncs the directory to S3 and restores it when a spot job restarts, so a
checkpoint is only ever seen whole (temporary name + rename) and carries a fingerprint
of what it was trained on: resuming someone else's run is an error, not a silent mix.
Written with the C pickler (joblib's Python one cost about ten times as much on 300 trees; the file
name stays .joblib).
"""

from __future__ import annotations

import pickle
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from common.storage import atomic_path, remove_temporaries

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
            with open(tmp, "wb") as file:
                pickle.dump({"fingerprint": self.fingerprint, "step": step, "state": state}, file,
                            protocol=pickle.HIGHEST_PROTOCOL)
        for _, old in self._files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def check_writable(self) -> None:
        """Fail at start, naming the path, when checkpoints could not be saved (not after a stage of training)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(prefix=".write-check-", dir=self.directory):
                pass
        except OSError as exc:
            raise ConfigError(
                f"checkpoint directory {self.directory} is not writable ({exc.strerror or exc}); "
                "give the job a writable checkpoint location (CheckpointConfig LocalPath or SM_CHECKPOINT_DIR)"
            ) from None

    def latest(self) -> tuple[int, Any] | None:
        """At the start of a run: check the directory is writable, then return the newest readable
        checkpoint's (step, state), or None for a fresh start.

        An unreadable checkpoint (cut short by a failed sync, say) is skipped, saying so, for the
        previous one; a checkpoint of another run is an error, never skipped.
        """
        self.check_writable()
        remove_temporaries(self.directory)  # half-written checkpoints of a killed run
        files = self._files()
        unreadable = []
        for step, path in reversed(files):
            try:
                with open(path, "rb") as file:
                    saved = pickle.load(file)
                if not isinstance(saved, dict) or "state" not in saved:
                    raise ValueError("not a checkpoint of this program")
            except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is reported the same way
                unreadable.append(path)
                print(f"WARNING: checkpoint {path.name} is unreadable ({type(exc).__name__}: {exc}); "
                      "trying the previous one", file=sys.stderr, flush=True)
                continue
            if saved.get("fingerprint") != self.fingerprint:
                raise ConfigError(
                    f"checkpoint {path} belongs to a run with other data or parameters; "
                    "use an empty checkpoint location for a new run"
                )
            if unreadable:
                print(f"train: resuming from {path.name}, the newest readable checkpoint", file=sys.stderr, flush=True)
            return step, saved["state"]
        if unreadable:
            raise ConfigError(
                f"no readable checkpoint in {self.directory}: {[str(p) for p in unreadable]} are corrupt; "
                "remove them to start afresh"
            )
        return None
