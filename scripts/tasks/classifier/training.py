"""Gradient boosting in stages, so that training can stop and resume at any stage boundary.

Two model families (families/: gb.py, hgb.py; a module each, more can be added), picked by
`TrainParams.estimator` or, for "auto", by the data's size. scikit-learn's GradientBoosting ("gb"),
chosen by bench/estimator_bench.py on the default data: the same 5-fold AUC as HistGradientBoosting
with the same settings (0.738 vs 0.739) and 2.2-2.6x faster predictions, which is what an endpoint
pays for. Its fit grows with rows x columns (exact splits): 527 s for 300 trees on 20,000 x 300
(bench/wide_bench.py). HistGradientBoosting ("hgb") bins the features and fits many times faster on
large or wide sets (bench/wide_bench.py, bench/volume_bench.py; see bench/README.md), so "auto" takes
it from HGB_FROM_ROWS training rows or HGB_FROM_CELLS rows x preprocessed columns on. Both grow
`stage_size` trees per stage with warm_start; the same stages run whether or not the job was
interrupted, so a resumed model equals an uninterrupted one (and pickles to the same bytes: `canonical`).
The family may score the validation rows incrementally (`incremental`), so a stage costs its own trees,
not every tree so far. With early stopping, the model shipped is
the stage with the best validation loss (log-loss; squared error for regression), not the last one grown.
The target's kind (target.py) decides classifier or regressor and the validation figures.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from common.storage import intern_strings

from . import families
from .params import TrainParams
from .target import BINARY, KINDS

# "auto" fits HistGradientBoosting from this many training rows on. GradientBoosting's fit grows with
# the rows (bench/volume_bench.py, 2 cores: 0.9 s a tree at 200,000 rows, 6.9 s at 1.4 million, so
# about 12 minutes for 300 trees here and 35 at 1.4 million); HistGradientBoosting grew 300 trees in
# 48 s and 350 s. Below this GradientBoosting's 2.2-2.6x faster predictions are worth its fit.
HGB_FROM_ROWS = 500_000
# ... or from this many cells (training rows x preprocessed columns). GradientBoosting measured about
# 0.42 microseconds per cell per tree here (20,000 x 300: 527 s for 300 trees), so at 1,000,000 cells
# its 300 trees take about 2 minutes where HistGradientBoosting takes seconds (bench/wide_bench.py).
# The default data (about 6,900 x 25 = 0.17 million cells) stays below and keeps GradientBoosting.
HGB_FROM_CELLS = 1_000_000


@dataclass
class TrainingState:
    model: Any  # an estimator of a model family (families.of(model))
    history: list[dict] = field(default_factory=list)
    best_loss: float = float("inf")
    best_trees: int = 0  # trees at the best validation loss: what early stopping ships
    stale_stages: int = 0
    finished: bool = False
    kind: str = BINARY  # target.KINDS: the validation loss and metric
    classes: int = 2

    @property
    def trees(self) -> int:
        return families.of(self.model).stages(self.model)


def choose_estimator(params: TrainParams, train_rows: int, columns: int = 0) -> str:
    """A family name: the one asked for, or for "auto" by the training set's rows and rows x columns."""
    if params.estimator != "auto":
        families.family(params.estimator).check(params)
        return params.estimator
    large = train_rows >= HGB_FROM_ROWS or train_rows * columns >= HGB_FROM_CELLS
    return "hgb" if large and params.subsample == 1.0 else "gb"


def new_state(params: TrainParams, train_rows: int = 0, columns: int = 0, kind: str = BINARY,
              classes: int = 2) -> TrainingState:
    family = families.family(choose_estimator(params, train_rows, columns))
    params = replace(params, min_samples_leaf=leaf_rows(params, train_rows))
    return TrainingState(model=family.new(params, KINDS[kind].estimator_type), kind=kind, classes=classes)


def leaf_rows(params: TrainParams, train_rows: int) -> int:
    """Rows per leaf at least: min_samples_leaf, or min_leaf_share of the training rows when that is more
    (a share scales with the data: small files keep min_samples_leaf, larger ones get steadier leaves)."""
    return max(params.min_samples_leaf, math.ceil(params.min_leaf_share * train_rows))


def run_stage(state: TrainingState, X_train, y_train, X_val, y_val, params: TrainParams,
              scoring: Callable[[Any], Any] | None = None) -> None:
    """Grow one stage of trees and record validation figures; sets `finished` at the end.

    `scoring`: model -> what scores X_val as the model does (validation_scoring); None: the model itself.
    """
    family = families.of(state.model)
    kind = KINDS[state.kind]
    target = min(state.trees + params.stage_size, params.n_estimators)
    family.grow(state.model, target, X_train, y_train)
    figures = kind.validation(y_val, kind.scores(scoring(state.model) if scoring else state.model, X_val), state.classes)
    loss = figures[kind.loss_name]
    state.history.append({"trees": target, **figures})
    if loss < state.best_loss - 1e-6:
        state.best_loss, state.best_trees, state.stale_stages = loss, target, 0
    else:
        state.stale_stages += 1
    patience = params.early_stopping_stages
    state.finished = target >= params.n_estimators or (patience > 0 and state.stale_stages >= patience)
    if state.finished and patience > 0 and 0 < state.best_trees < state.trees:
        keep_first_trees(state.model, state.best_trees)


def keep_first_trees(model, trees: int) -> None:
    """Cut a fitted model back to its first `trees` stages (boosting stages are additive)."""
    families.of(model).keep_first(model, trees)


def train(
    X_train, y_train, X_val, y_val, params: TrainParams,
    state: TrainingState | None = None,
    after_stage: Callable[[TrainingState], None] = lambda state: None,
    kind: str = BINARY, classes: int = 2,
) -> TrainingState:
    """Run stages until finished, starting from `state` (a resumed checkpoint) if given.

    `after_stage` is where the caller checkpoints, logs and honours a stop request.
    """
    state = state or new_state(params, len(y_train), np.shape(X_train)[1], kind, classes)
    scoring = validation_scoring(state.model, X_val)
    while not state.finished:
        run_stage(state, X_train, y_train, X_val, y_val, params, scoring)
        after_stage(state)
    canonical(state.model)
    return state


def validation_scoring(model, X_val) -> Callable[[Any], Any] | None:
    """The family's incremental scoring of the validation rows when it has one (families: `incremental`):
    the same scores, the new stage's trees added to the last stage's sums instead of predicting with
    every tree again (at stage k the whole model is k stages of trees)."""
    incremental = getattr(families.of(model), "incremental", None)
    return incremental(X_val) if incremental else None


def canonical(model) -> None:
    """Make the model's pickle depend on its values alone, in place: a resumed model then pickles to
    the bytes of an uninterrupted one (registry and lineage key models by SHA-256).

    Pickle writes an object once and refers back to it after, so its bytes follow which equal values
    are one object, and that follows the process's history: arrays a process built share numpy's one
    float64 dtype (and strings, sklearn's interned names), arrays restored from a checkpoint share
    that pickle's own copies. Here every string is interned, every array is viewed with one dtype
    object per distinct dtype (numpy's own for plain ones), and a numpy Generator is rebuilt from its
    seed sequence and state (its seed sequence holds an array pickle cannot reach through attributes).
    Done once, when training ends; a pickle round trip of the whole state after every stage did it
    before, at a cost that grew with the trees (as many round trips as stages).
    """
    dtypes: dict = {}

    def stand_in(value):
        if isinstance(value, np.ndarray):
            dtype = _canonical_dtype(value.dtype, dtypes)
            return None if dtype is value.dtype else value.view(dtype)
        if isinstance(value, np.random.Generator):
            return _rebuilt_generator(value)
        return None

    intern_strings(model, replace=stand_in)  # one walk of the graph: strings, then arrays and generators


def _canonical_dtype(dtype: np.dtype, known: dict) -> np.dtype:
    """One object per distinct dtype: numpy's own for a plain native one; a record's made of those (and interned names)."""
    if dtype not in known:
        if dtype.fields is None and dtype.subdtype is None:
            same = np.dtype(dtype.str)
        elif dtype.fields is not None and dtype.metadata is None:
            same = np.dtype({"names": [sys.intern(n) for n in dtype.names], "offsets": [dtype.fields[n][1] for n in dtype.names],
                             "formats": [_canonical_dtype(dtype.fields[n][0], known) for n in dtype.names],
                             "itemsize": dtype.itemsize}, align=dtype.isalignedstruct)
        else:
            same = dtype
        known[dtype] = same if same == dtype else dtype
    return known[dtype]


def _rebuilt_generator(generator: np.random.Generator) -> np.random.Generator:
    bits, sequence = generator.bit_generator, getattr(generator.bit_generator, "seed_seq", None)
    if not isinstance(sequence, np.random.SeedSequence):
        return generator
    rebuilt = type(bits)(np.random.SeedSequence(sequence.entropy, spawn_key=sequence.spawn_key,
                                                pool_size=sequence.pool_size,
                                                n_children_spawned=sequence.n_children_spawned))
    rebuilt.state = bits.state
    return np.random.Generator(rebuilt)


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
