"""Gradient boosting in stages, so that training can stop and resume at any stage boundary.

Two estimators, by `TrainParams.estimator`. scikit-learn's GradientBoostingClassifier ("gb"),
chosen by bench/estimator_bench.py on the default data: the same 5-fold AUC as
HistGradientBoosting with the same settings (0.738 vs 0.739) and 2.2-2.6x faster predictions,
which is what an endpoint pays for. HistGradientBoostingClassifier ("hgb") bins the features
and fits many times faster on large sets (bench/volume_bench.py: see bench/README.md), so
"auto" takes it from HGB_FROM_ROWS training rows on. Both grow `stage_size` trees per stage
with warm_start; the same stages run whether or not the job was interrupted, so a resumed
model equals an uninterrupted one. With early stopping, the model shipped is the stage with
the best validation log-loss, not the last one grown.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Callable

import joblib
import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score

from common.errors import ConfigError

from .params import TrainParams

# "auto" fits HistGradientBoosting from this many training rows on. GradientBoosting's fit grows with
# the rows (bench/volume_bench.py, 2 cores: 0.9 s a tree at 200,000 rows, 6.9 s at 1.4 million, so
# about 12 minutes for 300 trees here and 35 at 1.4 million); HistGradientBoosting grew 300 trees in
# 48 s and 350 s. Below this GradientBoosting's 2.2-2.6x faster predictions are worth its fit.
HGB_FROM_ROWS = 500_000


@dataclass
class TrainingState:
    model: GradientBoostingClassifier | HistGradientBoostingClassifier
    history: list[dict] = field(default_factory=list)
    best_loss: float = float("inf")
    best_trees: int = 0  # trees at the best validation log-loss: what early stopping ships
    stale_stages: int = 0
    finished: bool = False

    @property
    def trees(self) -> int:
        if isinstance(self.model, HistGradientBoostingClassifier):
            return len(getattr(self.model, "_predictors", ()))
        return len(self.model.estimators_) if hasattr(self.model, "estimators_") else 0


def choose_estimator(params: TrainParams, train_rows: int) -> str:
    """"gb" or "hgb": the one asked for, or for "auto" by the training set's size."""
    if params.estimator == "hgb" and params.subsample < 1.0:
        raise ConfigError(f"hyperparameter 'subsample' = {params.subsample}: HistGradientBoosting has no row "
                          "subsampling; use estimator=gb, or subsample=1.0")
    if params.estimator != "auto":
        return params.estimator
    return "hgb" if train_rows >= HGB_FROM_ROWS and params.subsample == 1.0 else "gb"


def new_state(params: TrainParams, train_rows: int = 0) -> TrainingState:
    if choose_estimator(params, train_rows) == "hgb":
        model = HistGradientBoostingClassifier(
            max_iter=0,
            learning_rate=params.learning_rate,
            max_depth=params.max_depth,
            max_leaf_nodes=None,  # trees as deep as GradientBoosting's: bounded by max_depth alone
            min_samples_leaf=params.min_samples_leaf,
            early_stopping=False,  # ours, by stages on the validation channel
            random_state=params.seed,
            warm_start=True,
        )
        return TrainingState(model=model)
    model = GradientBoostingClassifier(
        n_estimators=0,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        subsample=params.subsample,
        random_state=params.seed,
        warm_start=True,
    )
    return TrainingState(model=model)


def run_stage(state: TrainingState, X_train, y_train, X_val, y_val, params: TrainParams) -> None:
    """Grow one stage of trees and record validation metrics; sets `finished` at the end."""
    target = min(state.trees + params.stage_size, params.n_estimators)
    hist = isinstance(state.model, HistGradientBoostingClassifier)
    state.model.set_params(**{"max_iter" if hist else "n_estimators": target})
    state.model.fit(X_train, y_train)
    proba = state.model.predict_proba(X_val)[:, 1]
    loss = float(log_loss(y_val, proba, labels=[0, 1]))
    auc = float(roc_auc_score(y_val, proba)) if len(np.unique(y_val)) == 2 else float("nan")
    state.history.append({"trees": target, "validation_logloss": loss, "validation_auc": auc})
    if loss < state.best_loss - 1e-6:
        state.best_loss, state.best_trees, state.stale_stages = loss, target, 0
    else:
        state.stale_stages += 1
    patience = params.early_stopping_stages
    state.finished = target >= params.n_estimators or (patience > 0 and state.stale_stages >= patience)
    if state.finished and patience > 0 and 0 < state.best_trees < state.trees:
        keep_first_trees(state.model, state.best_trees)


def keep_first_trees(model: GradientBoostingClassifier | HistGradientBoostingClassifier, trees: int) -> None:
    """Cut a fitted model back to its first `trees` stages, as sklearn's own early stopping does.

    Boosting stages are additive, so the first k trees are exactly the model after k stages.
    """
    if isinstance(model, HistGradientBoostingClassifier):
        model._predictors = model._predictors[:trees]
        model.train_score_ = model.train_score_[: trees + 1]  # empty without sklearn's early stopping
        model.validation_score_ = model.validation_score_[: trees + 1]
        model.max_iter = trees  # n_iter_ is len(_predictors)
        return
    model.estimators_ = model.estimators_[:trees]
    model.train_score_ = model.train_score_[:trees]
    if hasattr(model, "oob_improvement_"):
        model.oob_improvement_ = model.oob_improvement_[:trees]
        model.oob_scores_ = model.oob_scores_[:trees]
        model.oob_score_ = model.oob_scores_[-1]
    model.n_estimators = model.n_estimators_ = trees


def train(
    X_train, y_train, X_val, y_val, params: TrainParams,
    state: TrainingState | None = None,
    after_stage: Callable[[TrainingState], None] = lambda state: None,
) -> TrainingState:
    """Run stages until finished, starting from `state` (a resumed checkpoint) if given.

    `after_stage` is where the caller checkpoints, logs and honours a stop request.
    """
    state = state or new_state(params, len(y_train))
    while not state.finished:
        run_stage(state, X_train, y_train, X_val, y_val, params)
        state = as_restored(state)
        after_stage(state)
    return state


def as_restored(state: TrainingState) -> TrainingState:
    """The state as a checkpoint restores it (a joblib round trip), so that every run continues from equal objects.

    Without it a resumed model predicts the same but pickles to other bytes: trees grown in one
    process share objects (parameter strings, numpy dtypes) that pickle writes once, while trees
    restored from a checkpoint carry their own copies. The round trip costs milliseconds per stage.
    """
    buffer = io.BytesIO()
    joblib.dump(state, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def choose_threshold(y_true, proba) -> float:
    """The probability cut that maximises F1 on validation data (0.5 for a degenerate set)."""
    y_true = np.asarray(y_true)
    if y_true.sum() == 0 or y_true.sum() == len(y_true):
        return 0.5
    order = np.argsort(-proba, kind="stable")
    sorted_proba, sorted_true = proba[order], y_true[order]
    tp = np.cumsum(sorted_true)
    predicted = np.arange(1, len(sorted_true) + 1)
    f1 = 2 * tp / (predicted + y_true.sum())
    # only cut where the probability changes, so the threshold separates distinct scores
    distinct = np.r_[sorted_proba[1:] != sorted_proba[:-1], True]
    best = int(np.argmax(np.where(distinct, f1, -1)))
    return float(sorted_proba[best])
