"""From split DataFrames to a servable pipeline: the whole training core, no I/O.

train.py wraps this with channels, checkpoints and the artifact; tests call it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from .schema import Schema
from .training import TrainingState, TrainParams, choose_threshold, train


@dataclass
class FittedModel:
    pipeline: Pipeline
    state: TrainingState
    threshold: float
    validation_auc: float
    validation_logloss: float


def fit(
    train_df: pd.DataFrame,
    validation_df: pd.DataFrame,
    schema: Schema,
    preprocessor: ColumnTransformer,
    params: TrainParams,
    state: TrainingState | None = None,
    after_stage: Callable[[TrainingState], None] = lambda state: None,
) -> FittedModel:
    """Train in stages on preprocessed features and join preprocessor + estimator into one pipeline."""
    features = list(schema.features)
    X_train = preprocessor.transform(train_df[features])
    X_val = preprocessor.transform(validation_df[features])
    y_train = schema.encode_target(train_df[schema.target]).to_numpy()
    y_val = schema.encode_target(validation_df[schema.target]).to_numpy()
    state = train(X_train, y_train, X_val, y_val, params, state=state, after_stage=after_stage)
    proba = state.model.predict_proba(X_val)[:, 1]
    auc = float(roc_auc_score(y_val, proba)) if len(np.unique(y_val)) == 2 else float("nan")
    return FittedModel(
        pipeline=Pipeline([("preprocess", preprocessor), ("model", state.model)]),
        state=state,
        threshold=choose_threshold(y_val, proba),
        validation_auc=auc,
        validation_logloss=float(log_loss(y_val, proba, labels=[0, 1])),
    )
