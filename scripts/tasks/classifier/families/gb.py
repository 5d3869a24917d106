"""scikit-learn's GradientBoosting (exact splits): the smaller data's family.

On the default data it matches HistGradientBoosting's AUC and predicts 2.2-2.6x faster
(bench/estimator_bench.py), but its fit grows with rows x columns (bench/wide_bench.py).
"""

from __future__ import annotations

from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

NAME = "gb"
CLASSES = (GradientBoostingClassifier, GradientBoostingRegressor)


def check(params) -> None:
    pass


def new(params, estimator_type: str):
    cls = GradientBoostingRegressor if estimator_type == "regressor" else GradientBoostingClassifier
    return cls(n_estimators=0, learning_rate=params.learning_rate, max_depth=params.max_depth,
               min_samples_leaf=params.min_samples_leaf, subsample=params.subsample, random_state=params.seed,
               warm_start=True)


def stages(model) -> int:
    return len(model.estimators_) if hasattr(model, "estimators_") else 0


def grow(model, total: int, X, y) -> None:
    model.set_params(n_estimators=total)
    model.fit(X, y)


def keep_first(model, trees: int) -> None:
    """Boosting stages are additive, so the first k trees are exactly the model after k stages."""
    model.estimators_ = model.estimators_[:trees]
    model.train_score_ = model.train_score_[:trees]
    if hasattr(model, "oob_improvement_"):
        model.oob_improvement_ = model.oob_improvement_[:trees]
        model.oob_scores_ = model.oob_scores_[:trees]
        model.oob_score_ = model.oob_scores_[-1]
    model.n_estimators = model.n_estimators_ = trees
