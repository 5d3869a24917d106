#!/usr/bin/env python3
"""Processing step: raw CSV/Parquet files -> cleaned rows, their schema and a report.

Input `raw` (every CSV/Parquet file below it; with several instances each cleans its own share of
the files, whether SageMaker sharded them (ShardedByS3Key) or gave every instance all of them).
Output `cleaned` (tasks.classifier.channels): one set of files per instance.
"""

from common.storage import read_tables
from contract import processing_job, run_processing
from pipeline.spec import CLASSIFIER
from tasks.classifier import channels, cleaning, schema

STEP = CLASSIFIER.step("clean")


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
    (raw,) = STEP.inputs
    files = job.input_files(raw.name)
    if not files:  # more instances than files: this one has no share
        print(f"clean: no input files for {job.hosts.current} ({job.hosts.count} instances share them)")
        return
    rows = read_tables(files, params["bad_rows"])
    cleaned, report = cleaning.clean(
        rows, params["target"], numeric=set(params["numeric_columns"]), categorical=set(params["categorical_columns"])
    )
    inferred = schema.infer(
        cleaned, params["target"], params["positive_label"], params["id_columns"],
        numeric=params["numeric_columns"] or None, categorical=params["categorical_columns"] or None,
    )
    (out,) = STEP.outputs
    channels.write_cleaned(job.output(out.name), job.hosts.current, cleaned, cleaning.summarize_schema(inferred, cleaned), report)
    print(f"clean: {report['rows_in']} rows in, {report['rows_out']} out, dropped {report['dropped']}")


if __name__ == "__main__":
    run_processing(main)
