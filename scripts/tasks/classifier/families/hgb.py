"""scikit-learn's HistGradientBoosting (binned features, OpenMP threads): the large and wide data's family.

Bins each feature into at most 255 values and builds histograms, so a stage costs far less than
GradientBoosting's exact splits on many rows or columns (bench/wide_bench.py, bench/volume_bench.py).
Uses the cores the training job allows (the caller's threadpool limit).

Growing in stages with warm_start makes scikit-learn redo work at every fit call that an unbroken
fit does once. It bins the training matrix again: on 14,000 x 300 that was over half of the
training time (30 stages, profiled). And it predicts the training rows with every tree grown so
far, to know where boosting stands: at stage k that is k stages of trees, so 30 stages predicted
4,350 trees where 300 were grown (about a tenth of the wide file's training time). The estimators
here are HistGradientBoosting with two changes that keep the same numbers, so the same trees: the
training matrix's bins are computed once per process and reused while the matrix is the same array
object (the training core never changes it), and the training rows' raw predictions are kept from
one fit call to the next (`Running`), so that a warm start adds only the trees of the stage before
it, in the order scikit-learn adds them (the same floats). Neither cache is part of the model:
they are never pickled, and a resumed job bins and predicts once. `incremental(X)` does the same
for the validation rows the training core scores after every stage.
"""

from __future__ import annotations

import copy
import weakref

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from common.errors import ConfigError

NAME = "hgb"
CLASSES = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


class Running:
    """The raw predictions of a growing model on one matrix, each iteration's trees added once.

    scikit-learn's `_raw_predict` starts from the baseline and adds every iteration's trees in order;
    this keeps that sum and adds only the iterations it has not summed yet, in the same order, so
    it holds the same floats at the cost of the new trees alone. It checks that the model's first
    iterations are the ones it summed (the same objects: a fit appends iterations and never changes
    one) and starts over when they are not: another model, one restored from a checkpoint, or one cut
    back to its best stage.
    """

    def __init__(self, X, binned: bool):
        self.X, self.binned = X, binned
        self.prepared = binned  # raw rows are checked and converted once, as _raw_predict does every call
        self.raw = None
        self.baseline = b""
        self.summed: list[list] = []  # the model's iterations (lists of trees) in the sums

    def update(self, model, n_threads=None) -> np.ndarray:
        """The model's raw predictions on X (shape rows x trees per iteration); the caller must not change them."""
        if not self.prepared:
            self.X, self.prepared = model._preprocess_X(self.X, reset=False), True
        predictors = model._predictors
        baseline = model._baseline_prediction
        fresh = (self.raw is None or baseline.tobytes() != self.baseline or len(predictors) < len(self.summed)
                 or any(mine is not theirs for mine, theirs in zip(self.summed, predictors)))
        if fresh:
            self.raw = np.zeros((self.X.shape[0], model.n_trees_per_iteration_), dtype=baseline.dtype, order="F")
            self.raw += baseline
            self.baseline, self.summed = baseline.tobytes(), []
        new = predictors[len(self.summed):]
        model._predict_iterations(self.X, new, self.raw, self.binned, _openmp_effective_n_threads(n_threads))
        self.summed.extend(new)
        return self.raw


class _Predicted:
    """A fitted model's scores on the rows a Running holds: what predict_proba / predict would answer."""

    def __init__(self, model, raw):
        self.model, self.raw = model, raw

    def predict_proba(self, X):  # noqa: ARG002 - the rows are the Running's
        return self.model._loss.predict_proba(self.raw)

    def predict(self, X):  # noqa: ARG002 - regressors only, as target.Regression asks
        return self.model._loss.link.inverse(self.raw.ravel())


def incremental(X):
    """model -> an object whose predict_proba(X) / predict(X) equal the model's on X, adding only the
    trees grown since the last call (the training core scores the validation rows after every stage)."""
    running = Running(X, binned=False)
    return lambda model: _Predicted(model, running.update(model))


class _Training:
    """The matrix being fitted: a weak reference to it, its fitted bin mapper, its bins, and the
    raw predictions of the last model fitted on it."""

    def __init__(self, X, mapper, binned):
        self.matrix, self.mapper, self.binned = weakref.ref(X), mapper, binned
        self.running = Running(binned, binned=True)


_TRAINING: list[_Training] = []  # one entry: the matrix being fitted


class _Staged:
    def _bin_data(self, X, sample_weight, is_training_data):
        if not is_training_data or sample_weight is not None:
            return super()._bin_data(X, sample_weight, is_training_data)
        training = _TRAINING[0] if _TRAINING else None
        # the bins depend on the seed too (from 200,000 rows on, the bin edges come from a sample)
        if training and training.matrix() is X and training.mapper.random_state == self._random_seed:
            # fit() made a new, unfitted mapper: a copy of the one these bins came from, holding this model's seed
            self._bin_mapper = copy.copy(training.mapper)
            self._bin_mapper.random_state = self._random_seed
            return training.binned
        binned = super()._bin_data(X, sample_weight, is_training_data)
        _TRAINING[:] = [_Training(X, self._bin_mapper, binned)]
        return binned

    def _raw_predict(self, X, n_threads=None):
        training = _TRAINING[0] if _TRAINING else None
        if training is None or X is not training.binned or not getattr(self, "_in_fit", False):
            return super()._raw_predict(X, n_threads)
        # a warm start asks where boosting stands on the training rows: the stages before plus the last one's trees
        return training.running.update(self, n_threads).copy(order="F")  # fit adds its trees to what it gets


class StagedHistGradientBoostingClassifier(_Staged, HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier that bins and predicts an unchanged training matrix once across warm starts."""


class StagedHistGradientBoostingRegressor(_Staged, HistGradientBoostingRegressor):
    """HistGradientBoostingRegressor that bins and predicts an unchanged training matrix once across warm starts."""


def check(params) -> None:
    if params.subsample < 1.0:
        raise ConfigError(f"hyperparameter 'subsample' = {params.subsample}: HistGradientBoosting has no row "
                          "subsampling; use estimator=gb, or subsample=1.0")


def new(params, estimator_type: str):
    cls = StagedHistGradientBoostingRegressor if estimator_type == "regressor" else StagedHistGradientBoostingClassifier
    return cls(
        max_iter=0,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        max_leaf_nodes=None,  # trees as deep as GradientBoosting's: bounded by max_depth alone
        min_samples_leaf=params.min_samples_leaf,
        early_stopping=False,  # ours, by stages on the validation channel
        random_state=params.seed,
        warm_start=True,
    )


def stages(model) -> int:
    return len(getattr(model, "_predictors", ()))


def grow(model, total: int, X, y) -> None:
    model.set_params(max_iter=total)
    model.fit(X, y)


def keep_first(model, trees: int) -> None:
    """As sklearn's own early stopping does: the first k iterations are exactly the model after k."""
    model._predictors = model._predictors[:trees]
    model.train_score_ = model.train_score_[: trees + 1]  # empty without sklearn's early stopping
    model.validation_score_ = model.validation_score_[: trees + 1]
    model.max_iter = trees  # n_iter_ is len(_predictors)
