"""The classifier's channels, each written and read here and nowhere else.

    roles/          roles.json: the roles step's column roles and schema, which every clean instance applies
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
ROLES_FILE = "roles.json"


# ---- roles (the roles step's, one file every clean instance applies) ----------------------------------
def write_pinned_roles(directory: Path, pinned: dict[str, Any]) -> None:
    storage.write_json(Path(directory) / ROLES_FILE, pinned)


def read_pinned_roles(directory: Path) -> dict[str, Any]:
    data = storage.read_json(Path(directory) / ROLES_FILE)
    if not isinstance(data, dict) or "schema" not in data or "roles" not in data:
        raise ConfigError(f"{Path(directory) / ROLES_FILE} is missing or not the roles step's output")
    return data


# ---- cleaned ---------------------------------------------------------------------------------------
def start_cleaned_rows(directory: Path, host: str, rows: Any) -> storage.PendingWrite:
    """Begin writing the cleaned rows in a thread (Parquet encoding releases the GIL), so that roles and the schema
    are inferred meanwhile; write_cleaned finishes it. `rows`: as write_cleaned's."""
    table = storage.pandas_table(rows) if isinstance(rows, pd.DataFrame) else rows.table
    return storage.PendingWrite(Path(directory) / f"cleaned-{host}.parquet", lambda handle: storage.write_parquet(table, handle))


def write_cleaned(directory: Path, host: str, rows: Any, schema_summary: dict, report: dict) -> None:
    """`rows`: cleaning.clean's DataFrame, its CleanedTable (whose table carries the DataFrame's pandas metadata),
    or start_cleaned_rows' pending write of either."""
    path = Path(directory) / f"cleaned-{host}.parquet"
    if isinstance(rows, storage.PendingWrite):
        rows.finish()
    elif isinstance(rows, pd.DataFrame):
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
    frame = rows[[schema.target, *schema.features]]
    text = _plain_csv(frame)
    with storage.atomic_path(path) as tmp:
        if text is None:
            frame.to_csv(tmp, index=False, header=False, lineterminator="\n")
        else:
            tmp.write_bytes(text)


_QUOTED = r'[,"\r\n]'  # what the csv module's minimal quoting quotes


def _plain_csv(frame: pd.DataFrame) -> bytes | None:
    """DataFrame.to_csv(index=False, header=False, lineterminator="\n")'s bytes, column by column with numpy and
    pyarrow rather than a Python call per field; None when a text value would need quotes (pandas writes those).
    Each value is written as to_csv writes it: floats as numpy's str (their repr), integers and booleans as str,
    missing values as nothing."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.empty or not len(frame.columns):
        return None
    columns = []
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
            # each distinct number formatted once (numpy's float-to-text is the slow part), as to_csv formats it
            numbers = values.to_numpy()
            if numbers.dtype.kind == "f" and np.signbit(numbers[numbers == 0]).any():  # -0.0: factorize makes it 0.0
                text = pa.array(numbers.astype(str), mask=np.isnan(numbers))
            else:
                codes, uniques = pd.factorize(numbers, use_na_sentinel=True)
                text = pa.array(uniques.astype(str), type=pa.string()).take(pa.array(codes, mask=codes < 0))
        elif isinstance(values.dtype, pd.StringDtype) or (
                values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
            text = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string())
            if pc.any(pc.match_substring_regex(text, _QUOTED)).as_py():
                return None
        else:
            return None
        columns.append(text.fill_null(""))
    lines = pc.binary_join_element_wise(*columns, ",") if len(columns) > 1 else columns[0]
    return ("\n".join(lines.to_pylist()) + "\n").encode("utf-8")


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
