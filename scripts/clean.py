#!/usr/bin/env python3
"""Processing step: raw CSV/Parquet files -> cleaned rows, their schema and a report.

Input `raw` (every CSV/Parquet file below it; with several instances each cleans its own share of
the files, whether SageMaker sharded them (ShardedByS3Key) or gave every instance all of them). Output `cleaned`:
`cleaned-<host>.parquet`, `schema-<host>.json`, `report-<host>.json` (one set per instance,
since all instances of a processing job upload to the same S3 prefix).
"""

from contract import Param, processing_job, run_processing
from common.storage import read_tables, write_json, write_table
from tasks.classifier import cleaning, schema

PARAMS = {
    "target": Param(str, help="the binary target column"),
    "positive_label": Param(str, help="the target value that means positive (1)"),
    "id_columns": Param(list, [], help="columns to drop (row ids), comma-separated"),
    "numeric_columns": Param(list, [], help="force these columns to be numeric"),
    "categorical_columns": Param(list, [], help="force these columns to be categorical"),
    "bad_rows": Param(str, "refuse", "CSV rows with a wrong field count: refuse, or drop and count", choices=("refuse", "drop")),
}


def main() -> None:
    job = processing_job()
    params = job.params(PARAMS)
    files = job.input_files("raw")
    if not files:  # more instances than files: this one has no share
        print(f"clean: no input files for {job.hosts.current} ({job.hosts.count} instances share them)")
        return
    raw = read_tables(files, params["bad_rows"])
    cleaned, report = cleaning.clean(
        raw, params["target"], numeric=set(params["numeric_columns"]), categorical=set(params["categorical_columns"])
    )
    inferred = schema.infer(
        cleaned, params["target"], params["positive_label"], params["id_columns"],
        numeric=params["numeric_columns"] or None, categorical=params["categorical_columns"] or None,
    )
    out = job.output("cleaned")
    host = job.hosts.current
    write_table(cleaned, out / f"cleaned-{host}.parquet")
    write_json(out / f"schema-{host}.json", cleaning.summarize_schema(inferred, cleaned))
    write_json(out / f"report-{host}.json", report)
    print(f"clean: {report['rows_in']} rows in, {report['rows_out']} out, dropped {report['dropped']}")


if __name__ == "__main__":
    run_processing(main)
