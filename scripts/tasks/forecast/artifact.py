"""The forecast model artifact: one directory that serving, registry and deploy can trust.

    model.npz       per-series states as plain arrays (no pickle: loading runs no code)
    metadata.json   task, schema (columns, freq, horizon, season, interval level), parameters,
                    library versions, data hashes, sample series ids for the serving
                    self-test, and the SHA-256 of model.npz

Loading verifies the hash before reading the arrays. The same array format is used for
training checkpoints (write_states / read_states).
"""

from __future__ import annotations

import io
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.errors import StepError
from common.storage import sha256_file, write_bytes, write_json

from .model import FIELDS, TEXT_FIELDS, ForecastModel

MODEL_FILE = "model.npz"
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


def save(model_dir: Path, model: ForecastModel, columns: dict[str, str | None], **details: Any) -> dict[str, Any]:
    """Write model.npz, then metadata.json naming its hash. `details`: params, data hashes, anything else."""
    model_dir = Path(model_dir)
    model_path = model_dir / MODEL_FILE
    write_bytes(model_path, _states_bytes(model.states))
    metadata = {
        "format_version": FORMAT_VERSION,
        "task": TASK,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_file": MODEL_FILE,
        "model_sha256": sha256_file(model_path),
        "schema": {"columns": columns, "freq": model.freq, "horizon": model.horizon, "season": model.season,
                   "interval_level": model.interval_level},
        "methods": model.summary(),
        "versions": library_versions(),
        "sample_series": model.ids[:SAMPLE_SERIES],
        **details,
    }
    write_json(model_dir / METADATA_FILE, metadata)
    return metadata


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
    model_path = model_dir / metadata.get("model_file", MODEL_FILE)
    if not model_path.is_file():
        raise ArtifactError(f"{model_path} not found")
    actual = sha256_file(model_path)
    if actual != metadata.get("model_sha256"):
        raise ArtifactError(
            f"{model_path}: SHA-256 {actual} does not match metadata {metadata.get('model_sha256')}: altered or corrupt"
        )
    schema = metadata.get("schema") or {}
    absent = [k for k in ("freq", "horizon", "season") if k not in schema]
    if absent:
        raise ArtifactError(f"{meta_path}: schema lacks {absent}")
    model = ForecastModel(read_states(model_path), freq=schema["freq"], horizon=int(schema["horizon"]),
                          season=int(schema["season"]), interval_level=float(schema.get("interval_level", 0.95)))
    return model, metadata


def self_test(model: ForecastModel, metadata: dict[str, Any]) -> None:
    """Forecast the artifact's sample series; raises if the model cannot serve."""
    frame = model.forecast(metadata.get("sample_series") or model.ids[:1])
    numbers = frame[["mean", "lower", "upper"]].to_numpy()
    if not np.isfinite(numbers).all() or (frame["lower"] > frame["upper"]).any():
        raise ArtifactError("self-test produced invalid forecasts")
