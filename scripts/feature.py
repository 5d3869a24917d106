#!/usr/bin/env python3
"""Processing step: cleaned rows -> stratified train/validation/test splits and the preprocessor.

Input `cleaned` (from clean.py). Outputs `train`, `validation`, `test` (raw rows, Parquet)
and `preprocessor` (preprocessor.joblib fitted on train only, and schema.json). Runs on
one instance: a split needs all the rows, so other instances do nothing.
"""

import joblib

from contract import DataError, Param, layout, processing_job, run_processing
from common.storage import atomic_path, read_tables, sha256_file, write_json, write_table
from tasks.classifier import features
from tasks.classifier.schema import Schema

PARAMS = {
    "validation_fraction": Param(float, 0.15, "share of rows for validation", minimum=0.01, maximum=0.5),
    "test_fraction": Param(float, 0.15, "share of rows for test", minimum=0.01, maximum=0.5),
    "seed": Param(int, 42, "seed of the split"),
}


def read_schema(directory) -> Schema:
    """The schema every clean instance wrote; they must agree."""
    files = sorted(directory.glob("schema-*.json"))
    if not files:
        raise DataError(f"no schema-*.json in {directory}: is it the output of clean.py?")
    schemas = {f.name: Schema.from_dict(layout.read_json_file(f)) for f in files}
    first = next(iter(schemas.values()))
    for name, other in schemas.items():
        if not other.agrees_with(first):  # column order may differ between shards
            raise DataError(f"{directory / name} disagrees with {files[0].name}: clean shards inferred different schemas")
    return first


def main() -> None:
    job = processing_job()
    params = job.params(PARAMS)
    if not job.hosts.is_leader:
        print(f"feature: {job.hosts.current} is not the leader; the split runs on one instance")
        return
    source = job.input("cleaned")
    schema = read_schema(source)
    rows = read_tables(source)
    duplicates = int(rows.duplicated().sum())  # rows that several clean instances each kept once
    rows = rows.drop_duplicates().reset_index(drop=True)
    train, validation, test = features.split(
        rows, schema, params["validation_fraction"], params["test_fraction"], params["seed"]
    )
    preprocessor = features.fit_preprocessor(train, schema)
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        write_table(part, job.output(name) / f"{name}.parquet")
    out = job.output("preprocessor")
    with atomic_path(out / "preprocessor.joblib") as tmp:
        joblib.dump(preprocessor, tmp)
    write_json(out / "schema.json", {**schema.to_dict(), "preprocessor_sha256": sha256_file(out / "preprocessor.joblib")})
    print(f"feature: train {len(train)}, validation {len(validation)}, test {len(test)} rows"
          f" ({duplicates} duplicates across clean shards dropped)")


if __name__ == "__main__":
    run_processing(main)
