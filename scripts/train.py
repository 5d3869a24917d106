#!/usr/bin/env python3
"""Training job: train/validation channels + fitted preprocessor -> a self-describing model.

Channels `train`, `validation` (raw rows from feature.py) and `preprocessor`. Writes
model.joblib and metadata.json to SM_MODEL_DIR. Spot-safe: a checkpoint after every stage
of trees; restarted with a checkpoint, it resumes and ends with the same model; SIGTERM
stops it at the next stage boundary with that stage saved.
"""

import joblib

from contract import ConfigError, Param, Stopped, layout, log_metric, run_training, stop_requested, training_job
from contract.checkpoints import CheckpointStore
from common.storage import read_tables, sha256_file, sha256_frame
from tasks.classifier import artifact, modeling
from tasks.classifier.schema import Schema
from tasks.classifier.training import TrainParams

PARAMS = {
    "n_estimators": Param(int, TrainParams.n_estimators, "most trees to grow", minimum=1),
    "stage_size": Param(int, TrainParams.stage_size, "trees per stage (one checkpoint each)", minimum=1),
    "learning_rate": Param(float, TrainParams.learning_rate, "shrinkage", minimum=1e-6, maximum=1.0),
    "max_depth": Param(int, TrainParams.max_depth, "depth of each tree", minimum=1, maximum=32),
    "min_samples_leaf": Param(int, TrainParams.min_samples_leaf, "rows per leaf at least", minimum=1),
    "subsample": Param(float, TrainParams.subsample, "row share per tree", minimum=0.05, maximum=1.0),
    "early_stopping_stages": Param(
        int, TrainParams.early_stopping_stages, "stop after this many stages without better validation log-loss (0: never)", minimum=0
    ),
    "seed": Param(int, TrainParams.seed, "random seed"),
    "threshold": Param(float, None, "decision threshold; default: the F1-best on validation", minimum=0.0, maximum=1.0),
}


def load_preprocessor(directory):
    schema_data = layout.read_json_file(directory / "schema.json")
    if schema_data is None:
        raise ConfigError(f"channel 'preprocessor': {directory / 'schema.json'} not found (is it feature.py's output?)")
    path = directory / "preprocessor.joblib"
    if not path.is_file() or sha256_file(path) != schema_data.get("preprocessor_sha256"):
        raise ConfigError(f"channel 'preprocessor': {path} is missing or does not match schema.json's SHA-256")
    return joblib.load(path), Schema.from_dict(schema_data)


def main() -> None:
    job = training_job()
    hp = job.params(PARAMS)
    threshold = hp.pop("threshold")
    params = TrainParams(**hp)
    if not job.hosts.is_leader:
        print(f"train: {job.hosts.current} is not the leader; gradient boosting trains on one instance")
        return
    train_df = read_tables(job.channel("train"))
    validation_df = read_tables(job.channel("validation"))
    preprocessor, schema = load_preprocessor(job.channel("preprocessor"))
    data_hashes = {"train_sha256": sha256_frame(train_df), "validation_sha256": sha256_frame(validation_df)}
    store = CheckpointStore(job.checkpoint_dir, params.fingerprint(*data_hashes.values()))
    resumed = store.latest()
    if resumed:
        print(f"train: resuming from checkpoint at stage {resumed[0]} in {job.checkpoint_dir}")

    def after_stage(state):
        stage = len(state.history)
        path = store.save(stage, state)
        latest = state.history[-1]
        log_metric("validation:logloss", latest["validation_logloss"])
        log_metric("validation:auc", latest["validation_auc"])
        if stop_requested() and not state.finished:
            raise Stopped(f"stopped by SIGTERM after stage {stage} ({state.trees} trees); checkpoint {path.name} resumes it")

    fitted = modeling.fit(
        train_df, validation_df, schema, preprocessor, params,
        state=resumed[1] if resumed else None, after_stage=after_stage,
    )
    artifact.save(
        job.model_dir, fitted.pipeline, schema,
        threshold=fitted.threshold if threshold is None else threshold,
        sample_rows=validation_df.head(3),
        estimator=type(fitted.state.model).__name__,
        params={**hp, "trees": fitted.state.trees},
        metrics={"validation_auc": fitted.validation_auc, "validation_logloss": fitted.validation_logloss},
        history=fitted.state.history,
        data={**data_hashes, "train_rows": len(train_df), "validation_rows": len(validation_df)},
    )
    log_metric("final:validation:auc", fitted.validation_auc)
    log_metric("final:validation:logloss", fitted.validation_logloss)
    print(f"train: {fitted.state.trees} trees, model written to {job.model_dir}")


if __name__ == "__main__":
    run_training(main, cooperative_stop=True)
