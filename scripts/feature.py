#!/usr/bin/env python3
"""Processing step: cleaned rows -> stratified train/validation/test splits and the preprocessor.

Input `cleaned` (from clean.py). Outputs `train`, `validation`, `test` (raw rows),
`preprocessor` (fitted on train only), formats owned by tasks.classifier.channels, and `baseline`
(Model Monitor's statistics.json and constraints.json of the training split's features). Runs on one
instance: a split needs all the rows, so other instances do nothing.
Forecast data (the task clean wrote into the schema): per series, the last `horizon` points are
`test`, the `horizon` before them `validation`, the rest `train` (in `train_files` files, each series
in one, for the ShardedByS3Key train channel); output `schema` carries the task on.
"""

from concurrent.futures import ThreadPoolExecutor

from common.storage import pandas_table, write_json
from contract import processing_job, run_processing
from monitoring import baseline
from pipeline.spec import BATCH_TEST_FILE, CLASSIFIER, FORECAST, SPLITS
from tasks.classifier import channels, features
from tasks.forecast import channels as forecast_channels, model as forecast_model, seasonality
from tasks.forecast import split as forecast_split

STEP = CLASSIFIER.step("feature")
FORECAST_STEP = FORECAST.step("feature")


def forecast(job) -> None:
    params = job.params(FORECAST_STEP.params)
    long, schema = forecast_channels.read_cleaned(job.input(FORECAST_STEP.input("cleaned").name))
    parts = forecast_split.split(long, params["horizon"])
    # train: each series in one of `train_files` files, so that the train channel can be ShardedByS3Key
    written = forecast_channels.write_split_files(job.output(FORECAST_STEP.output("train").name), "train", parts[0],
                                                  params["train_files"])
    for name, part in zip(SPLITS[1:], parts[1:]):
        forecast_channels.write_split(job.output(FORECAST_STEP.output(name).name), name, part)
    # the season, chosen here on every series, travels in the schema: training hosts each see a share
    ids = sorted(parts[0]["series"].astype(str).unique())
    season, evidence = seasonality.choose(forecast_model.to_matrix(parts[0], ids)[0], schema["freq"])
    forecast_channels.write_schema(job.output(FORECAST_STEP.output("schema").name), {
        **schema, "horizon": params["horizon"], "series": int(long["series"].nunique()),
        "season": season, "season_evidence": evidence})
    print(f"feature: {long['series'].nunique()} series; " + ", ".join(f"{n} {len(p)} points" for n, p in zip(SPLITS, parts))
          + f"; train in {len(written)} file(s)")


def main() -> None:
    job = processing_job()
    if not job.hosts.is_leader:
        print(f"feature: {job.hosts.current} is not the leader; the split runs on one instance")
        return
    if forecast_channels.task_of(job.input(STEP.input("cleaned").name)) == "forecast":
        return forecast(job)
    params = job.params(STEP.params)
    source = job.input(STEP.input("cleaned").name)
    schema = channels.read_cleaned_schema(source)
    rows = channels.read_cleaned_rows(source)
    repeated = features.repeated_rows(rows, channels.cleaned_shards(source))  # kept by several clean instances
    duplicates = int(repeated.sum())
    if duplicates:
        rows = rows[~repeated].reset_index(drop=True)
    parts = features.split(rows, schema, params["validation_fraction"], params["test_fraction"], params["seed"])
    # Parquet encoding releases the GIL: a thread writes the splits while this one fits and counts
    with ThreadPoolExecutor(1) as background:
        writes = [background.submit(channels.write_split, job.output(STEP.output(name).name), name, pandas_table(part))
                  for name, part in zip(SPLITS, parts)]
        channels.write_preprocessor(job.output(STEP.output("preprocessor").name), features.fit_preprocessor(parts[0], schema),
                                    schema)
        channels.write_batch(job.output(STEP.output("batch").name), BATCH_TEST_FILE, parts[2], schema)
        # what drift checks compare new data and captured requests with: the training rows' features
        train_features = parts[0][list(schema.features)]
        statistics = baseline.statistics(train_features, features.monitoring_roles(schema))
        statistics["excluded_columns"] = features.excluded_columns(schema)  # ours: what drift must not call extra
        out = job.output(STEP.output("baseline").name)
        write_json(out / "constraints.json", baseline.constraints(train_features, stats=statistics))
        write_json(out / "statistics.json", statistics)
        for written in writes:
            written.result()
    sizes = ", ".join(f"{name} {len(part)}" for name, part in zip(SPLITS, parts))
    print(f"feature: {sizes} rows ({duplicates} duplicates across clean shards dropped)")


if __name__ == "__main__":
    run_processing(main)
