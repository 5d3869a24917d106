"""The classifier's channels, each written and read here and nowhere else.

    cleaned/        cleaned-<host>.parquet, schema-<host>.json, report-<host>.json (one set per clean
                    instance: every instance of a processing job uploads to the same S3 prefix)
    train/ validation/ test/    <split>.parquet: raw rows, as serving will see them
    preprocessor/   preprocessor.joblib (fitted on train only) and schema.json naming its SHA-256
    batch/          test.csv: the test split as a Batch Transform input (headerless, target first, then
                    the features in training order)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from common import storage
from common.errors import ConfigError, DataError

from .schema import Schema

SCHEMA_FILE = "schema.json"
PREPROCESSOR_FILE = "preprocessor.joblib"


# ---- cleaned ---------------------------------------------------------------------------------------
def write_cleaned(directory: Path, host: str, rows: Any, schema_summary: dict, report: dict) -> None:
    """`rows`: cleaning.clean's DataFrame, or its CleanedTable (whose table carries the DataFrame's pandas metadata)."""
    path = Path(directory) / f"cleaned-{host}.parquet"
    if isinstance(rows, pd.DataFrame):
        storage.write_table(rows, path)
    else:
        storage.write_arrow_table(rows.table, path)
    storage.write_json(Path(directory) / f"schema-{host}.json", schema_summary)
    storage.write_json(Path(directory) / f"report-{host}.json", report)


def read_cleaned_schema(directory: Path) -> Schema:
    """The schema every clean instance wrote; they must agree."""
    files = sorted(Path(directory).glob("schema-*.json"))
    if not files:
        raise DataError(f"no schema-*.json in {directory}: is it the output of clean.py?")
    schemas = {f.name: Schema.from_dict(storage.read_json(f)) for f in files}
    first = next(iter(schemas.values()))
    for name, other in schemas.items():
        if other.role_differences(first):  # roles were inferred per shard: a host whose data contradicts fails
            raise DataError(f"{Path(directory) / name} disagrees with {files[0].name} on column roles "
                            f"({'; '.join(other.role_differences(first))}): pin them with a roles file or "
                            "--text-columns/--datetime-columns/--feature-columns")
        if not other.agrees_with(first):  # column order may differ between shards
            raise DataError(f"{Path(directory) / name} disagrees with {files[0].name}: clean shards inferred different schemas")
    return first


def cleaned_shards(directory: Path) -> int:
    """How many clean instances wrote rows here."""
    return len(storage.table_files(Path(directory), suffixes=(".parquet",)))


def read_cleaned_rows(directory: Path) -> pd.DataFrame:
    return storage.read_tables(storage.table_files(Path(directory), suffixes=(".parquet",)))


def read_cleaned_reports(directory: Path) -> dict[str, dict]:
    return {p.name: storage.read_json(p) for p in sorted(Path(directory).glob("report-*.json"))}


# ---- splits ----------------------------------------------------------------------------------------
def write_split(directory: Path, name: str, rows: Any) -> None:
    """`rows`: a DataFrame, or storage.pandas_table of one (so that a thread can write it while pandas works on)."""
    path = Path(directory) / f"{name}.parquet"
    storage.write_table(rows, path) if isinstance(rows, pd.DataFrame) else storage.write_arrow_table(rows, path)


def read_split(directory: Path) -> pd.DataFrame:
    return storage.read_tables(Path(directory))


def write_batch(directory: Path, name: str, rows: pd.DataFrame, schema: Schema) -> None:
    """Headerless CSV, one record per line (SplitType=Line): the target, then the features as serving reads
    headerless rows; the transform's InputFilter $[1:] leaves the target out of each request."""
    path = Path(directory) / name
    with storage.atomic_path(path) as tmp:
        rows[[schema.target, *schema.features]].to_csv(tmp, index=False, header=False, lineterminator="\n")


# ---- preprocessor ----------------------------------------------------------------------------------
def write_preprocessor(directory: Path, preprocessor: Any, schema: Schema) -> None:
    path = Path(directory) / PREPROCESSOR_FILE
    import joblib

    with storage.atomic_path(path) as tmp:
        joblib.dump(preprocessor, tmp)
    storage.write_json(Path(directory) / SCHEMA_FILE, {**schema.to_dict(), "preprocessor_sha256": storage.sha256_file(path)})


def read_preprocessor_schema(directory: Path) -> Schema:
    data = storage.read_json(Path(directory) / SCHEMA_FILE)
    if data is None:
        raise ConfigError(f"{Path(directory) / SCHEMA_FILE} not found (is it feature.py's preprocessor output?)")
    return Schema.from_dict(data)


def read_preprocessor(directory: Path) -> tuple[Any, Schema]:
    """The fitted preprocessor, after checking it is the file schema.json names."""
    schema = read_preprocessor_schema(directory)
    data = storage.read_json(Path(directory) / SCHEMA_FILE)
    path = Path(directory) / PREPROCESSOR_FILE
    if not path.is_file() or storage.sha256_file(path) != data.get("preprocessor_sha256"):
        raise ConfigError(f"{path} is missing or does not match {SCHEMA_FILE}'s SHA-256")
    import joblib

    return joblib.load(path), schema
