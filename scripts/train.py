#!/usr/bin/env python3
"""Training job: train/validation channels + fitted preprocessor -> a self-describing model.

Channels `train`, `validation` (raw rows from feature.py) and `preprocessor`. Writes
model.joblib and metadata.json to SM_MODEL_DIR. Forecast data (a `schema` channel naming the task):
one model per series (Holt-Winters, seasonal naive where it fails or loses on validation), fitted in
batches over every core, each batch checkpointed so that a restarted job skips what is done;
model.npz and metadata.json. Spot-safe: a checkpoint after every stage
of trees; restarted with a checkpoint, it resumes and ends with the same model; SIGTERM
stops it at the next stage boundary with that stage saved.
"""

from common.storage import sha256_frame
from contract import Stopped, log_metric, run_training, stop_requested, training_job
from contract.checkpoints import CheckpointStore
from contract.serving import cpu_count
from pipeline.spec import CLASSIFIER, FORECAST
from tasks.classifier import artifact, channels, modeling
from tasks.classifier.params import TrainParams
from tasks.forecast import artifact as forecast_artifact, channels as forecast_channels, model as forecast_model
from tasks.forecast import seasonality

STEP = CLASSIFIER.step("train")
FORECAST_STEP = FORECAST.step("train")


def forecast(job) -> None:
    hp = job.params(FORECAST_STEP.params)
    if not job.hosts.is_leader:
        print(f"train: {job.hosts.current} is not the leader; the series are fitted on one instance, over its cores")
        return
    schema = forecast_channels.read_schema(job.channel(FORECAST_STEP.input("schema").name))
    train_df = forecast_channels.read_split(job.channel(FORECAST_STEP.input("train").name))
    validation_df = forecast_channels.read_split(job.channel(FORECAST_STEP.input("validation").name))
    horizon, freq = int(schema["horizon"]), schema["freq"]
    season, evidence = hp["season"], {"given": hp["season"]}
    if not season:
        ids = sorted(train_df["series"].astype(str).unique())
        season, evidence = seasonality.choose(forecast_model.to_matrix(train_df, ids)[0], freq)
    data_hashes = {"train_sha256": sha256_frame(train_df), "validation_sha256": sha256_frame(validation_df)}
    store = CheckpointStore(job.checkpoint_dir, f"forecast:{season}:{horizon}:{hp['batch_size']}:" + ":".join(data_hashes.values()))
    resumed = store.latest()
    if resumed:
        print(f"train: resuming with {len(resumed[1]['series'])} series done, from {job.checkpoint_dir}")

    def after_batch(states):
        store.save(len(states["series"]), states)
        log_metric("train:series_done", len(states["series"]))
        if stop_requested():
            raise Stopped(f"stopped by SIGTERM with {len(states['series'])} series done; the checkpoint resumes it")

    def progress(info):
        left = "?" if info["seconds_left"] is None else f"{info['seconds_left']:.0f} s"
        print(f"train: {info['done']}/{info['total']} series, {info['series_per_second']} series/s, {left} left", flush=True)

    workers = hp["workers"] or cpu_count()
    fitted = forecast_model.fit(train_df, validation_df, horizon, season, freq=freq, workers=workers,
                                batch_size=hp["batch_size"], done=resumed[1] if resumed else None,
                                after_batch=after_batch, progress=progress)
    forecast_artifact.save(job.model_dir, fitted, schema["columns"], params={**hp, "season": season},
                           season_evidence=evidence, data={**data_hashes, "series": len(fitted.ids)})
    print(f"train: {len(fitted.ids)} series, season {season}, methods {fitted.summary()}; model written to {job.model_dir}")


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

    def after_stage(state):
        stage = len(state.history)
        path = store.save(stage, state)
        for name, value in state.history[-1].items():  # validation_logloss -> validation:logloss
            if name != "trees":
                log_metric(name.replace("_", ":", 1), value)
        if stop_requested() and not state.finished:
            raise Stopped(f"stopped by SIGTERM after stage {stage} ({state.trees} trees); checkpoint {path.name} resumes it")

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
