"""The approval audit trail: one JSON line per status change, appended, never rewritten.

Why a file and not the package's CustomerMetadataProperties: the service allows 50 entries of
256 characters whose pattern refuses most punctuation, so a trail there would be cut short and
mangled, and every append would be a read-modify-write that two approvers could race. The package
keeps the latest change (ApprovalDescription and `last-status-change`); the file keeps all of them.
On AWS, CloudTrail records UpdateModelPackage calls as well.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

AUDIT_ENV = "REGISTRY_AUDIT_LOG"
DEFAULT_PATH = Path("work") / "registry" / "audit.jsonl"


def audit_path(given: str | None = None) -> Path:
    return Path(given or os.environ.get(AUDIT_ENV) or DEFAULT_PATH)


def append(path: Path, entry: dict) -> dict:
    """Append one entry with a single O_APPEND write, so concurrent writers never interleave a line."""
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **entry}
    line = (json.dumps(entry, sort_keys=False) + "\n").encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def read(path: Path, package_arn: str | None = None) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in entries if package_arn is None or e.get("package_arn") == package_arn]
