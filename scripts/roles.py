#!/usr/bin/env python3
"""Processing step: the column roles, inferred once from the whole input before clean shards it.

Input `raw` (every CSV/Parquet file, on one instance). Output `roles`: roles.json, the roles file
every clean instance applies (tasks.classifier.pinning): each column's role with its evidence, the
schema (the target's kind and classes from every row), and the sample it was inferred on (at most
`sample_rows` rows, uniform and seeded). The role parameters (text, dates, identifiers, features,
a roles file the user keeps, leakage) are given here, not to clean.
"""

from common.storage import table_files
from contract import processing_job, run_processing
from pipeline.spec import CLASSIFIER
from tasks.classifier import channels, cleaning, pinning, roles

STEP = CLASSIFIER.step("roles")


def main() -> None:
    job = processing_job()
    if not job.hosts.is_leader:
        print(f"roles: {job.hosts.current} is not the leader; the roles are inferred once, on one instance")
        return
    params = job.params(STEP.params)
    (raw,) = STEP.inputs
    files = table_files(job.input(raw.name))  # every file, whatever the instance count: roles see the whole input
    target = params["target"]
    declared = roles.declared_roles(
        id_columns=params["id_columns"], numeric=params["numeric_columns"], categorical=params["categorical_columns"],
        text=params["text_columns"], datetime=params["datetime_columns"],
        roles_file=roles.read_roles_file(params["roles"], "argument '--roles'"),
    )
    # one file at a time, CSV read by pyarrow: memory holds one file and the sample
    drawn = pinning.sample(((p.name, cleaning.read([p], params["bad_rows"])) for p in files), target,
                           params["sample_rows"])
    pinned, found = pinning.pin(drawn, target, params["task"], params["positive_label"], params["id_columns"], declared,
                                params["feature_columns"], params["leakage"])
    (out,) = STEP.outputs
    channels.write_pinned_roles(job.output(out.name), pinned)
    schema = pinned["schema"]
    print(f"roles: {drawn.rows_read} rows in {drawn.files} file(s), roles inferred on {len(drawn.rows)}; "
          f"target '{target}': {schema['kind']}" + (f" {schema['labels']}" if schema["labels"] else ""))
    print("roles: column roles\n" + found.table())
    for warning in found.warnings:
        print(f"roles: WARNING {warning}")


if __name__ == "__main__":
    run_processing(main)
