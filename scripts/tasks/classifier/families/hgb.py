"""scikit-learn's HistGradientBoosting (binned features, OpenMP threads): the large and wide data's family.

Bins each feature into at most 255 values once per fit and builds histograms, so a stage costs
far less than GradientBoosting's exact splits on many rows or columns (bench/wide_bench.py,
bench/volume_bench.py). Uses the cores the training job allows (the caller's threadpool limit).
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from common.errors import ConfigError

NAME = "hgb"
CLASSES = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


def check(params) -> None:
    if params.subsample < 1.0:
        raise ConfigError(f"hyperparameter 'subsample' = {params.subsample}: HistGradientBoosting has no row "
                          "subsampling; use estimator=gb, or subsample=1.0")


def new(params, estimator_type: str):
    cls = HistGradientBoostingRegressor if estimator_type == "regressor" else HistGradientBoostingClassifier
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
