#!/usr/bin/env python3
"""Training job: train/validation channels + fitted preprocessor -> a self-describing model.

Channels `train`, `validation` (raw rows from feature.py) and `preprocessor`. Writes
model.joblib and metadata.json to SM_MODEL_DIR. Spot-safe: a checkpoint after every stage
of trees; restarted with a checkpoint, it resumes and ends with the same model; SIGTERM
stops it at the next stage boundary with that stage saved.
"""

from common.storage import sha256_frame
from contract import Stopped, log_metric, run_training, stop_requested, training_job
from contract.checkpoints import CheckpointStore
from pipeline.spec import CLASSIFIER
from tasks.classifier import artifact, channels, modeling
from tasks.classifier.params import TrainParams

STEP = CLASSIFIER.step("train")


def main() -> None:
    job = training_job()
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
