"""scikit-learn's HistGradientBoosting (binned features, OpenMP threads): the large and wide data's family.

Bins each feature into at most 255 values and builds histograms, so a stage costs far less than
GradientBoosting's exact splits on many rows or columns (bench/wide_bench.py, bench/volume_bench.py).
Uses the cores the training job allows (the caller's threadpool limit).

Growing in stages with warm_start makes scikit-learn bin the training matrix again at every fit
call: on 14,000 x 300 that was over half of the training time (30 stages, profiled). The estimators
here are HistGradientBoosting with one change: the training matrix's bins are computed once per
process and reused while the matrix is the same array object (the training core never changes it),
which gives the same bins, so the same trees. The cache is not part of the model: it is never
pickled, and a resumed job bins once.
"""

from __future__ import annotations

import weakref

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from common.errors import ConfigError

NAME = "hgb"
CLASSES = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)

# (weak reference to the training matrix, its fitted bin mapper, its bins): one entry, the matrix being fitted
_BINNED: list[tuple] = []


class _BinsOnce:
    def _bin_data(self, X, sample_weight, is_training_data):
        if not is_training_data or sample_weight is not None:
            return super()._bin_data(X, sample_weight, is_training_data)
        if _BINNED and _BINNED[0][0]() is X:
            self._bin_mapper = _BINNED[0][1]  # fit() made a new, unfitted mapper: use the one these bins came from
            return _BINNED[0][2]
        binned = super()._bin_data(X, sample_weight, is_training_data)
        _BINNED[:] = [(weakref.ref(X), self._bin_mapper, binned)]
        return binned


class StagedHistGradientBoostingClassifier(_BinsOnce, HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier that bins an unchanged training matrix once across warm starts."""


class StagedHistGradientBoostingRegressor(_BinsOnce, HistGradientBoostingRegressor):
    """HistGradientBoostingRegressor that bins an unchanged training matrix once across warm starts."""


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
