"""The forecast model artifact: one directory that serving, registry and deploy can trust.

    model-<host>.npz  per-series states of the series that training host fitted, as plain arrays
                      (no pickle: loading runs no code); one file when one host trained
    metadata.json     the index: each part's file, host, series count and SHA-256; task, schema
                      (columns, freq, horizon, season, interval level), parameters, library
                      versions, data hashes, sample series ids for the serving self-test, and
                      model_sha256 (the SHA-256 of the parts' list, so of every part's bytes)

Training over N hosts: each host fits its share of the series and hands its part
(`part_bytes`) to the leader, which alone writes the directory (`save_parts`), so the artifact is
the same whether SageMaker uploads the leader's /opt/ml/model only or every host's merged.
Loading verifies every part's hash before reading it and merges the parts into one model.
Artifacts of one `model.npz` (before parts) still load. The same array format is used for
training checkpoints (write_states / read_states).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.errors import StepError
from common.storage import sha256_file, write_bytes, write_json

from .model import FIELDS, TEXT_FIELDS, ForecastModel, merge_states

MODEL_FILE = "model.npz"  # the one-file format before parts; still loaded
PART_FILE = "model-{host}.npz"
_PART_NAME = re.compile(r"^model-[A-Za-z0-9._-]+\.npz$")
_LENGTH = struct.Struct(">Q")
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1
TASK = "forecast"
SAMPLE_SERIES = 3


class ArtifactError(StepError):
    """A model directory that is incomplete, altered or not a forecast model."""


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__}


def _states_bytes(states: dict[str, np.ndarray]) -> bytes:
    arrays = {f: (states[f].astype(str) if f in TEXT_FIELDS else states[f]) for f in FIELDS}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read_states(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        missing = [f for f in FIELDS if f not in data.files]
        if missing:
            raise ArtifactError(f"{path}: missing arrays {missing}")
        return {f: (data[f].astype(object) if f in TEXT_FIELDS else data[f]) for f in FIELDS}


def write_states(path: Path, states: dict[str, np.ndarray]) -> None:
    """A checkpoint of fitted states, written atomically."""
    write_bytes(Path(path), _states_bytes(states))


def read_states(path: Path) -> dict[str, np.ndarray]:
    try:
        return _read_states(Path(path))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable states ({exc})") from None


def part_bytes(states: dict[str, np.ndarray], info: dict[str, Any]) -> bytes:
    """A host's part as it travels to the leader: a JSON header (host, season, files, ...) and its states."""
    header = json.dumps(info, default=str).encode("utf-8")
    return _LENGTH.pack(len(header)) + header + _states_bytes(states)


def read_part(blob: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        (size,) = _LENGTH.unpack_from(blob)
        info = json.loads(blob[_LENGTH.size : _LENGTH.size + size])
        with np.load(io.BytesIO(blob[_LENGTH.size + size :]), allow_pickle=False) as data:
            states = {f: (data[f].astype(object) if f in TEXT_FIELDS else data[f]) for f in FIELDS}
    except (ValueError, KeyError, struct.error, OSError) as exc:
        raise ArtifactError(f"a host's part is unreadable ({exc})") from None
    return states, info


def is_artifact(model_dir: Path) -> bool:
    """A forecast model directory, by its file names alone (metadata.json is read once, by load)."""
    model_dir = Path(model_dir)
    return (model_dir / MODEL_FILE).is_file() or any(_PART_NAME.match(p.name) for p in model_dir.glob("model-*.npz"))


def _digest(parts: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps([[p["file"], p["sha256"]] for p in parts]).encode()).hexdigest()


def save_parts(model_dir: Path, parts: dict[str, dict[str, np.ndarray]], *, freq: str, horizon: int, season: int,
               columns: dict[str, str | None], **details: Any) -> dict[str, Any]:
    """Write each host's states as model-<host>.npz, then metadata.json indexing them (see the module)."""
    model_dir = Path(model_dir)
    index = []
    for host in sorted(parts):
        name = PART_FILE.format(host=host)
        if not _PART_NAME.match(name):
            raise ArtifactError(f"host name {host!r} cannot name a file")
        write_bytes(model_dir / name, _states_bytes(parts[host]))
        index.append({"host": host, "file": name, "series": int(len(parts[host]["series"])),
                      "sha256": sha256_file(model_dir / name)})
    model = ForecastModel(merge_states(parts.values()), freq=freq, horizon=horizon, season=season)
    metadata = {
        "format_version": FORMAT_VERSION,
        "task": TASK,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parts": index,
        "model_sha256": _digest(index),
        "schema": {"columns": columns, "freq": model.freq, "horizon": model.horizon, "season": model.season,
                   "interval_level": model.interval_level},
        "methods": model.summary(),
        "versions": library_versions(),
        "sample_series": model.ids[:SAMPLE_SERIES],
        **details,
    }
    write_json(model_dir / METADATA_FILE, metadata)
    return metadata


def save(model_dir: Path, model: ForecastModel, columns: dict[str, str | None], host: str = "algo-1",
         **details: Any) -> dict[str, Any]:
    """One host's model as a one-part artifact. `details`: params, data hashes, anything else."""
    return save_parts(model_dir, {host: model.states}, freq=model.freq, horizon=model.horizon, season=model.season,
                      columns=columns, **details)


def _checked_states(path: Path, expected: str | None) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ArtifactError(f"{path} not found")
    actual = sha256_file(path)
    if actual != expected:
        raise ArtifactError(f"{path}: SHA-256 {actual} does not match metadata {expected}: altered or corrupt")
    return read_states(path)


def load(model_dir: Path) -> tuple[ForecastModel, dict[str, Any]]:
    model_dir = Path(model_dir)
    meta_path = model_dir / METADATA_FILE
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{meta_path} not found: {model_dir} is not a model artifact") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path}: not valid JSON ({exc.msg})") from None
    if metadata.get("task") != TASK:
        raise ArtifactError(f"{meta_path}: task {metadata.get('task')!r}, expected {TASK!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{meta_path}: format_version {metadata.get('format_version')!r}, expected {FORMAT_VERSION}")
    schema = metadata.get("schema") or {}
    absent = [k for k in ("freq", "horizon", "season") if k not in schema]
    if absent:
        raise ArtifactError(f"{meta_path}: schema lacks {absent}")
    if "parts" in metadata:
        parts = metadata["parts"]
        if not parts or _digest(parts) != metadata.get("model_sha256"):
            raise ArtifactError(f"{meta_path}: the parts' list does not match model_sha256: altered or corrupt")
        states = merge_states(_checked_states(model_dir / p["file"], p["sha256"]) for p in parts)
    else:
        states = _checked_states(model_dir / metadata.get("model_file", MODEL_FILE), metadata.get("model_sha256"))
    model = ForecastModel(states, freq=schema["freq"], horizon=int(schema["horizon"]),
                          season=int(schema["season"]), interval_level=float(schema.get("interval_level", 0.95)))
    return model, metadata


def series_by_host(model_dir: Path, metadata: dict[str, Any]) -> dict[str, list[str]]:
    """Which training host fitted which series, from the index of a loaded artifact (its parts were
    checked by `load`); an artifact of one `model.npz` (before parts) was fitted by one host, algo-1."""
    parts = metadata.get("parts")
    if not parts:
        return {"algo-1": sorted(read_states(Path(model_dir) / metadata.get("model_file", MODEL_FILE))["series"].astype(str))}
    hosts: dict[str, list[str]] = {}
    for part in parts:
        with np.load(Path(model_dir) / part["file"], allow_pickle=False) as data:
            hosts[part["host"]] = sorted(data["series"].astype(str))
    return hosts


def self_test(model: ForecastModel, metadata: dict[str, Any]) -> None:
    """Forecast the artifact's sample series; raises if the model cannot serve."""
    frame = model.forecast(metadata.get("sample_series") or model.ids[:1])
    numbers = frame[["mean", "lower", "upper"]].to_numpy()
    if not np.isfinite(numbers).all() or (frame["lower"] > frame["upper"]).any():
        raise ArtifactError("self-test produced invalid forecasts")
