"""The forecaster's channels, each written and read here and nowhere else.

    cleaned/    cleaned-<host>.parquet (series, timestamp, value on each series' grid), schema-<host>.json
                (task, columns, frequency), report-<host>.json (every decision per series)
    train/      train-<k>.parquet (k < feature's train_files): long rows, each series in exactly one file,
                file k holding the series whose stable hash (sharding.host_for) is k, so that the train
                channel can be ShardedByS3Key (each training host gets whole files)
    validation/ test/    <split>.parquet: long rows, the time split of each series
    schema/     schema.json: task, columns, frequency, horizon, what the split kept

The task ("forecast") is named where the data enters (clean) and travels in schema.json, so that
later steps and the server read it from their inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from common import storage
from common.errors import DataError

from . import sharding
from .artifact import TASK

SCHEMA_FILE = "schema.json"


def write_cleaned(directory: Path, host: str, rows: pd.DataFrame, schema: dict[str, Any], report: dict) -> None:
    storage.write_table(rows, Path(directory) / f"cleaned-{host}.parquet")
    storage.write_json(Path(directory) / f"report-{host}.json", report)
    storage.write_json(Path(directory) / f"schema-{host}.json", {"task": TASK, **schema})


def read_cleaned(directory: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every clean instance's rows, and their shared schema; a series in two shards is an error naming it."""
    directory = Path(directory)
    schemas = [storage.read_json(f) for f in sorted(directory.glob("schema-*.json"))]
    if not schemas:
        raise DataError(f"no schema-*.json in {directory}: is it the output of clean.py?")
    freqs = {s["freq"] for s in schemas}
    if len(freqs) > 1:
        raise DataError(f"clean instances inferred different frequencies {sorted(freqs)}: give the frequency")
    parts = [pd.read_parquet(f) for f in sorted(directory.glob("cleaned-*.parquet"))]
    rows = pd.concat(parts, ignore_index=True)
    per_part = [set(p["series"].unique()) for p in parts]
    seen: set = set()
    for ids in per_part:
        both = ids & seen
        if both:
            raise DataError(f"series '{sorted(both)[0]}' was cleaned by two instances: a series must live in one "
                            f"file when the input is sharded by S3 key")
        seen |= ids
    return rows, schemas[0]


def task_of(directory: Path) -> str:
    """The task a cleaned/ or schema/ channel was written for ("classifier" before tasks were named)."""
    for name in (SCHEMA_FILE, *sorted(p.name for p in Path(directory).glob("schema-*.json"))):
        path = Path(directory) / name
        if path.is_file():
            return storage.read_json(path).get("task", "classifier")
    return "classifier"


def write_split(directory: Path, name: str, rows: pd.DataFrame) -> None:
    storage.write_table(rows, Path(directory) / f"{name}.parquet")


def write_split_files(directory: Path, name: str, rows: pd.DataFrame, files: int) -> list[str]:
    """A split as up to `files` files `<name>-<k>.parquet`, every series in exactly one (the stable hash
    of its id, modulo `files`); files no series falls in are not written. Returns the names written."""
    if files < 1:
        raise DataError(f"{name}: files must be at least 1, got {files}")
    ids = pd.unique(rows["series"])
    bucket = dict(zip(ids, sharding.hosts_for(ids, files)))
    keys = rows["series"].map(bucket)
    written = []
    for k in sorted(pd.unique(keys)):
        file = f"{name}-{int(k):03d}.parquet"
        storage.write_table(rows[keys == k].reset_index(drop=True), Path(directory) / file)
        written.append(file)
    return written


def read_split(directory: Path) -> pd.DataFrame:
    files = sorted(Path(directory).glob("*.parquet"))
    if not files:
        raise DataError(f"no .parquet file in {directory}")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def read_split_files(directory: Path) -> dict[str, pd.DataFrame]:
    """Each .parquet file below a split channel by its relative path (a host's share may be none of them)."""
    directory = Path(directory)
    return {f.relative_to(directory).as_posix(): pd.read_parquet(f) for f in sorted(directory.rglob("*.parquet"))}


def write_schema(directory: Path, schema: dict[str, Any]) -> None:
    storage.write_json(Path(directory) / SCHEMA_FILE, {"task": TASK, **schema})


def read_schema(directory: Path) -> dict[str, Any]:
    path = Path(directory) / SCHEMA_FILE
    if not path.is_file():
        raise DataError(f"{path} not found: is it the schema output of feature.py?")
    return storage.read_json(path)
