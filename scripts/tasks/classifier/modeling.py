"""From split DataFrames to a servable pipeline: the whole training core, no I/O.

train.py wraps this with channels, checkpoints and the artifact; tests call it directly. The
target's kind (schema.kind: binary, multiclass, regression) decides the estimator type and the
validation figures (target.py); the model family comes from the parameters or the data's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from .schema import Schema
from .target import BINARY, REGRESSION, kind_of
from .training import TrainingState, TrainParams, choose_threshold, train


@dataclass
class FittedModel:
    pipeline: Pipeline
    state: TrainingState
    threshold: float | None  # binary only: the F1-best cut on validation
    metrics: dict[str, float] = field(default_factory=dict)  # validation figures of the model shipped
    target_mean: float | None = None  # regression: the training mean, the baseline the gate compares with

    @property
    def validation_auc(self) -> float:
        return self.metrics.get("validation_auc", float("nan"))

    @property
    def validation_logloss(self) -> float:
        return self.metrics.get("validation_logloss", float("nan"))


def fit(
    train_df: pd.DataFrame,
    validation_df: pd.DataFrame,
    schema: Schema,
    preprocessor: ColumnTransformer,
    params: TrainParams,
    state: TrainingState | None = None,
    after_stage: Callable[[TrainingState], None] = lambda state: None,
    threads: int | None = None,
) -> FittedModel:
    """Train in stages on preprocessed features and join preprocessor + estimator into one pipeline.

    `threads`: the cores the estimator may use (the training job's SM_NUM_CPUS); None leaves the
    process's own limit (OMP_NUM_THREADS).
    """
    kind = kind_of(schema)
    features = list(schema.features)
    X_train = preprocessor.transform(train_df[features])
    X_val = preprocessor.transform(validation_df[features])
    y_train = schema.encode_target(train_df[schema.target]).to_numpy()
    y_val = schema.encode_target(validation_df[schema.target]).to_numpy()
    classes = len(schema.labels)
    with threadpool_limits(limits=threads, user_api="openmp"):
        state = train(X_train, y_train, X_val, y_val, params, state=state, after_stage=after_stage,
                      kind=schema.kind, classes=classes)
        scores = kind.scores(state.model, X_val)
    metrics = kind.validation(y_val, scores, classes)
    if schema.kind == REGRESSION:
        metrics["validation_r2"] = float(1 - np.sum((y_val - scores) ** 2) / max(np.sum((y_val - y_val.mean()) ** 2), 1e-300))
    return FittedModel(
        pipeline=Pipeline([("preprocess", preprocessor), ("model", state.model)]),
        state=state,
        threshold=choose_threshold(y_val, scores) if schema.kind == BINARY else None,
        metrics=metrics,
        target_mean=float(np.mean(y_train)) if schema.kind == REGRESSION else None,
    )
