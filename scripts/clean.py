#!/usr/bin/env python3
"""Processing step: raw CSV/Parquet files -> cleaned rows, their schema and a report.

Input `raw` (every CSV/Parquet file below it; with several instances each cleans its own share of
the files, whether SageMaker sharded them (ShardedByS3Key) or gave every instance all of them) and,
for tabular data, `roles`: the roles step's roles.json, inferred once from the whole input, which
every instance applies (a host whose data contradicts a role fails naming the column).
Output `cleaned`: one set of files per instance. The task is named here (`--task`, the pipeline's
own) and written into the schema, where every later step reads it:
- classifier (binary or multi-class, by the target's classes) and regression: rows with a target
  (tasks.classifier.channels; the kind in the schema);
- forecast: long series (id, timestamp, value) on a regular grid per series (tasks.forecast.channels).
"""

from common.storage import read_tables
from contract import ConfigError, processing_job, run_processing
from pipeline.spec import BY_TASK, CLASSIFIER, FORECAST, TASKS
from tasks.classifier import channels, cleaning, pinning, roles, schema
from tasks.forecast import channels as forecast_channels, cleaning as forecast_cleaning

STEP = CLASSIFIER.step("clean")
FORECAST_STEP = FORECAST.step("clean")


ROLE_PARAMS = ("id_columns", "numeric_columns", "categorical_columns", "text_columns", "datetime_columns",
               "feature_columns", "roles")


def tabular(job, files, task: str) -> None:
    """classifier and regression: the same cleaning; the task and the target decide the kind (schema.kind).
    With the roles step's output (the pipeline's way) every instance applies those roles; alone, clean
    infers them from its own rows."""
    params = job.params(STEP.params)
    rows = cleaning.read(files, params["bad_rows"])  # CSV: a pyarrow table, cleaned without a pandas copy
    (out,) = STEP.outputs
    if job.has_input("roles"):
        given = [name for name in ROLE_PARAMS if params[name]]
        if given:
            raise ConfigError(f"clean was given the roles step's output and role arguments {given}: give those to "
                              "the roles step, which infers the roles once for every clean instance")
        pinned = channels.read_pinned_roles(job.input("roles"))
        if pinned["schema"]["target"] != params["target"]:
            raise ConfigError(f"argument '--target' is '{params['target']}' but the roles step's target is "
                              f"'{pinned['schema']['target']}'")
        cleaned, frame, report, inferred = pinning.apply(rows, pinned)
        rows_written = channels.start_cleaned_rows(job.output(out.name), job.hosts.current, cleaned)
        found = None  # the roles step logged them, with their warnings
    else:
        declared = roles.declared_roles(
            id_columns=params["id_columns"], numeric=params["numeric_columns"], categorical=params["categorical_columns"],
            text=params["text_columns"], datetime=params["datetime_columns"],
            roles_file=roles.read_roles_file(params["roles"], "argument '--roles'"),
        )
        cleaned, report = cleaning.clean(
            rows, params["target"], numeric={c for c, r in declared.items() if r == roles.NUMERIC},
            categorical={c for c, r in declared.items() if r in roles.STRING_ROLES},
        )
        rows_written = channels.start_cleaned_rows(job.output(out.name), job.hosts.current, cleaned)  # a thread, meanwhile:
        frame = cleaning.frame(cleaned)
        found = roles.infer(frame, params["target"], declared, params["feature_columns"], params["leakage"])
        report["roles"] = found.report()
        inferred = schema.infer(frame, params["target"], params["positive_label"], params["id_columns"],
                                roles=found.roles, task=task)
    channels.write_cleaned(job.output(out.name), job.hosts.current, rows_written, cleaning.summarize_schema(inferred, frame),
                           report)
    print(f"clean: {report['rows_in']} rows in, {report['rows_out']} out, dropped {report['dropped']}; "
          f"target '{inferred.target}': {inferred.kind}" + (f" {list(inferred.labels)}" if inferred.labels else ""))
    if found is None:
        sample = report["roles"]["sample"]
        print(f"clean: the roles step's column roles applied (inferred once on {sample['rows_sampled']} of "
              f"{sample['rows_read']} rows)")
        return
    print("clean: column roles (inferred from this instance's rows)\n" + found.table())
    for warning in found.warnings:
        print(f"clean: WARNING {warning}")


def forecast(job, files) -> None:
    params = job.params(FORECAST_STEP.params)
    rows = read_tables(files, params["bad_rows"])
    horizon = params["horizon"]
    long, report = forecast_cleaning.clean(
        rows, series=params["series_column"] or None, time=params["time_column"], value=params["value_column"],
        freq=params["frequency"] or None, max_gap=params["max_gap"],
        # room for a test and a validation window and some history; shorter series are dropped and reported
        min_length=forecast_cleaning.min_length_for(horizon, 1),
    )
    (out,) = FORECAST_STEP.outputs
    forecast_channels.write_cleaned(job.output(out.name), job.hosts.current, long,
                                    {"columns": report["columns"], "freq": report["freq"]}, report)
    totals = report["totals"]
    print(f"clean: {totals['series_in']} series in, {totals['series_kept']} kept, dropped {totals['dropped_by_reason']}, "
          f"{totals['points_filled']} points filled, frequency {report['freq']}")


def main() -> None:
    job = processing_job()
    task = job.arguments.get("task", "classifier")
    if task not in TASKS:
        raise ConfigError(f"argument '--task': '{task}' is not one of {list(TASKS)}")
    raw = BY_TASK[task].step("clean").input("raw")
    files = job.input_files(raw.name)
    if not files:  # more instances than files: this one has no share
        print(f"clean: no input files for {job.hosts.current} ({job.hosts.count} instances share them)")
        return
    {"classifier": tabular, "regression": tabular, "forecast": lambda job, files, task: forecast(job, files)}[task](
        job, files, task)


if __name__ == "__main__":
    run_processing(main)
