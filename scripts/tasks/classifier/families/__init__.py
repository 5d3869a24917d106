"""Model families: one module each, picked by the `estimator` hyperparameter (TrainParams.estimator).

A family is a module here with this protocol (gb.py and hgb.py are the two there are):

    NAME: str                                       the parameter's value that picks it
    def new(params: TrainParams, estimator_type: str)  an unfitted estimator ("classifier" or
                                                    "regressor", from target.Kind.estimator_type) that
                                                    grows stages with warm_start and has 0 of them
    def grow(model, stages: int, X, y) -> None      fit in place up to `stages` stages in all, keeping
                                                    the ones it has (a resumed model must equal an
                                                    uninterrupted one)
    def stages(model) -> int                        stages fitted so far
    def keep_first(model, stages: int) -> None      cut back to the first `stages` (early stopping ships
                                                    the best stage, not the last)
    def check(params: TrainParams) -> None          refuse parameters the family cannot honour (ConfigError)
    def incremental(X) -> Callable[[model], object]    optional: model -> an object whose predict_proba(X)
                                                    (classifiers) / predict(X) (regressors) equal the
                                                    model's, computed from the trees added since the
                                                    last call (the validation rows after each stage);
                                                    without it every stage predicts with every tree

The fitted estimator must be a scikit-learn estimator (predict_proba for classifiers, predict for
regressors, n_features_in_): the training core joins it to the preprocessor in one Pipeline, so the
artifact, its SHA-256 check and serving (the fast path, verified against the pipeline, and the
pipeline itself as the fallback) work unchanged. To add a family: write the module, add its NAME to
NAMES below (light: the pipeline spec reads it without importing scikit-learn), and pick it with
`-p estimator=<name>` (make run HP="estimator=<name>"); tests/tasks/classifier/test_tasks15_models.py runs
each family through checkpoint and resume (add the new one to its parameters).
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("gb", "hgb")


def family(name: str) -> ModuleType:
    if name not in NAMES:
        raise KeyError(f"no model family '{name}'; declared: {list(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def of(model) -> ModuleType:
    """The family that built a fitted or new estimator."""
    for name in NAMES:
        module = family(name)
        if isinstance(model, module.CLASSES):
            return module
    raise TypeError(f"{type(model).__name__} belongs to no model family in {list(NAMES)}")
