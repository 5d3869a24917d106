#!/usr/bin/env python3
"""Training job: train/validation channels + fitted preprocessor -> a self-describing model.

Channels `train`, `validation` (raw rows from feature.py) and `preprocessor`. Writes
model.joblib and metadata.json to SM_MODEL_DIR. Forecast data (a `schema` channel naming the task):
one model per series (Holt-Winters, seasonal naive where it fails or loses on validation), fitted in
batches over every core, each batch checkpointed per host so that a restarted host skips what is
done. With N hosts each fits a disjoint, complete share: its files when the train channel is
ShardedByS3Key, else the series whose stable hash falls on it; every other host hands its part to
the leader over the job-end barrier's connection (contract.hostsync.hand_off) and only the leader
writes SM_MODEL_DIR: model-<host>.npz parts and metadata.json indexing them. Spot-safe: checkpoints at
stage boundaries (CHECKPOINT_SECONDS says when); restarted with a checkpoint, it resumes and ends with
the same model; SIGTERM stops it at the next stage boundary with that stage saved.
"""

import time

import pandas as pd

from common.storage import sha256_frame
from contract import DataError, Stopped, log_metric, run_training, stop_requested, training_job
from contract.checkpoints import CheckpointStore
from contract.hostsync import hand_off
from contract.serving import cpu_count
from pipeline.spec import CLASSIFIER, FORECAST
from tasks.classifier import artifact, channels, modeling
from tasks.classifier.params import TrainParams
from tasks.forecast import artifact as forecast_artifact, channels as forecast_channels, model as forecast_model
from tasks.forecast import seasonality, sharding

STEP = CLASSIFIER.step("train")
FORECAST_STEP = FORECAST.step("train")
# The classifier saves its state after the first stage, then after a stage that ends at least this many
# seconds after the last save, after a stage that ends with SIGTERM received (spot interruption,
# StopTrainingJob: those stop there with it saved) and after the last. A save pickles every tree so
# far and SageMaker uploads each file, so a save per stage cost a growing share of short stages
# (30 on the wide file, about 0.8 MB each); a lost instance (no SIGTERM) costs at most this much
# training again, and the resumed model is the same whichever stages were saved.
CHECKPOINT_SECONDS = 10.0


def _forecast_share(job, schema) -> tuple:
    """This host's train and validation rows and the series of each train file it models."""
    hosts, train_channel = job.hosts, FORECAST_STEP.input("train").name
    by_key = job.sharded(train_channel)
    files = forecast_channels.read_split_files(job.channel(train_channel))
    train_df, ids_by_file = sharding.host_share(files, by_key, sorted(hosts.hosts).index(hosts.current), hosts.count)
    validation_df = forecast_channels.read_split(job.channel(FORECAST_STEP.input("validation").name))
    validation_df = validation_df[validation_df["series"].isin(pd.unique(train_df["series"]))].reset_index(drop=True)
    mode = "ShardedByS3Key: this host's files" if by_key else f"replicated: stable hash of the series id, {hosts.count} hosts"
    print(f"train: {hosts.current} models {train_df['series'].nunique()} of {schema.get('series', '?')} series "
          f"({mode}; {len(files)} file(s))", flush=True)
    return train_df, validation_df, ids_by_file, by_key


def _fit_share(job, hp, schema, train_df, validation_df, season):
    """Fit this host's series, checkpointed per host (hosts share one checkpoint S3 prefix)."""
    host, horizon, freq = job.hosts.current, int(schema["horizon"]), schema["freq"]
    if train_df.empty:
        return None
    data_hashes = {"train_sha256": sha256_frame(train_df), "validation_sha256": sha256_frame(validation_df)}
    store = CheckpointStore(job.checkpoint_dir / host, f"forecast:{host}:{season}:{horizon}:{hp['batch_size']}:"
                            + ":".join(data_hashes.values()))
    resumed = store.latest()
    if resumed:
        print(f"train: {host} resuming with {len(resumed[1]['series'])} series done, from {store.directory}", flush=True)

    def after_batch(states):
        store.save(len(states["series"]), states)
        log_metric("train:series_done", len(states["series"]))
        if stop_requested():
            raise Stopped(f"stopped by SIGTERM with {len(states['series'])} series done; the checkpoint resumes it")

    def progress(info):
        left = "?" if info["seconds_left"] is None else f"{info['seconds_left']:.0f} s"
        print(f"train: {host}: {info['done']}/{info['total']} series, {info['series_per_second']} series/s, "
              f"{left} left", flush=True)

    fitted = forecast_model.fit(train_df, validation_df, horizon, season, freq=freq, workers=hp["workers"] or cpu_count(),
                                batch_size=hp["batch_size"], done=resumed[1] if resumed else None,
                                after_batch=after_batch, progress=progress)
    return fitted, data_hashes


def forecast(job) -> None:
    """Each host fits its share of the series and hands it to the leader, which writes the one artifact
    (tasks.forecast.artifact: parts named by host, one index), whatever SageMaker uploads."""
    hp = job.params(FORECAST_STEP.params)
    schema = forecast_channels.read_schema(job.channel(FORECAST_STEP.input("schema").name))
    train_df, validation_df, ids_by_file, by_key = _forecast_share(job, schema)
    season, evidence = hp["season"], {"given": hp["season"]}
    if not season and schema.get("season"):  # chosen by feature, on every series, so every host agrees
        season, evidence = int(schema["season"]), schema.get("season_evidence", {"from": "feature"})
    elif not season:
        ids = sorted(train_df["series"].astype(str).unique())
        season, evidence = seasonality.choose(forecast_model.to_matrix(train_df, ids)[0], schema["freq"])
    started = time.monotonic()
    result = _fit_share(job, hp, schema, train_df, validation_df, season)
    states = result[0].states if result else forecast_model.empty_states()
    info = {"host": job.hosts.current, "season": season, "series": int(len(states["series"])),
            "seconds": round(time.monotonic() - started, 2), **(result[1] if result else {}),
            "files": ids_by_file if by_key else sorted(ids_by_file)}
    parts = hand_off(forecast_artifact.part_bytes(states, info))
    if parts is None:
        print(f"train: {job.hosts.current} handed {info['series']} series to the leader", flush=True)
        return
    _write_forecast_model(job, hp, schema, parts, season, evidence, by_key)


def _write_forecast_model(job, hp, schema, parts, season, evidence, by_key) -> None:
    # keyed by the platform's host names (the part says which): local mode's algo-1-xxxxx would name files at random
    read = {part[1]["host"]: part for part in map(forecast_artifact.read_part, parts.values())}
    seasons = {host: info["season"] for host, (_, info) in read.items()}
    if len(set(seasons.values())) > 1:
        raise DataError(f"hosts chose different seasons {seasons}: give the season hyperparameter")
    if by_key:  # each host checked its own files; a series may still sit in files of two hosts
        sharding.check_series_in_one_file({f"{host}:{name}": ids for host, (_, info) in read.items()
                                           for name, ids in info["files"].items()})
    states = {host: s for host, (s, _) in read.items()}
    modelled = sum(len(s["series"]) for s in states.values())
    if schema.get("series") is not None and modelled != int(schema["series"]):
        raise DataError(f"the hosts modelled {modelled} series, the schema counts {schema['series']}: "
                        "the train channel's files do not hold every series")
    hosts = {host: {k: v for k, v in info.items() if k not in ("files", "host")} for host, (_, info) in read.items()}
    metadata = forecast_artifact.save_parts(
        job.model_dir, states, freq=schema["freq"], horizon=int(schema["horizon"]), season=season,
        columns=schema["columns"], params={**hp, "season": season}, season_evidence=evidence,
        data={"series": modelled, "sharding": "ShardedByS3Key" if by_key else "hash", "hosts": hosts})
    print(f"train: {modelled} series from {len(states)} host(s), season {season}, methods {metadata['methods']}; "
          f"model written to {job.model_dir}", flush=True)


def main() -> None:
    job = training_job()
    schema_channel = FORECAST_STEP.input("schema").name
    if schema_channel in job.channels and forecast_channels.task_of(job.channel(schema_channel)) == "forecast":
        return forecast(job)
    hp = job.params(STEP.params)
    threshold = hp.pop("threshold")
    params = TrainParams(**hp)
    if not job.hosts.is_leader:
        print(f"train: {job.hosts.current} is not the leader; gradient boosting trains on one instance")
        return
    train_df = channels.read_split(job.channel(STEP.input("train").name))
    validation_df = channels.read_split(job.channel(STEP.input("validation").name))
    preprocessor, schema = channels.read_preprocessor(job.channel(STEP.input("preprocessor").name))
    data_hashes = {"train_sha256": sha256_frame(train_df), "validation_sha256": sha256_frame(validation_df)}
    store = CheckpointStore(job.checkpoint_dir, params.fingerprint(*data_hashes.values()))
    resumed = store.latest()
    if resumed:
        print(f"train: resuming from checkpoint at stage {resumed[0]} in {job.checkpoint_dir}")

    saved = [time.monotonic(), None]  # when the last save ended, and its file

    def after_stage(state):
        stage = len(state.history)
        stopping = stop_requested() and not state.finished  # read once: a save must precede the stop
        if stopping or state.finished or saved[1] is None or time.monotonic() - saved[0] >= CHECKPOINT_SECONDS:
            saved[1], saved[0] = store.save(stage, state), time.monotonic()
        for name, value in state.history[-1].items():  # validation_logloss -> validation:logloss
            if name != "trees":
                log_metric(name.replace("_", ":", 1), value)
        if stopping:
            raise Stopped(f"stopped by SIGTERM after stage {stage} ({state.trees} trees); checkpoint {saved[1].name} "
                          "resumes it")

    fitted = modeling.fit(
        train_df, validation_df, schema, preprocessor, params,
        state=resumed[1] if resumed else None, after_stage=after_stage, threads=job.cpus,
    )
    artifact.save(
        job.model_dir, fitted.pipeline, schema,
        threshold=fitted.threshold if threshold is None else threshold,
        sample_rows=validation_df.head(3),
        estimator=type(fitted.state.model).__name__,
        params={**hp, "trees": fitted.state.trees},
        metrics=fitted.metrics,
        target_mean=fitted.target_mean,
        training={"cpus": job.cpus},
        history=fitted.state.history,
        data={**data_hashes, "train_rows": len(train_df), "validation_rows": len(validation_df)},
    )
    for name, value in fitted.metrics.items():
        log_metric("final:" + name.replace("_", ":", 1), value)
    print(f"train: {type(fitted.state.model).__name__}, {fitted.state.trees} trees on {job.cpus} core(s), "
          f"model written to {job.model_dir}")


if __name__ == "__main__":
    run_training(main, cooperative_stop=True)
