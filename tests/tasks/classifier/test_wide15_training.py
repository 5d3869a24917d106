"""Training that scales (issue 15): the staged fit's shortcuts change no number and no byte.

The hgb family keeps the training rows' bins and raw predictions between warm starts, and scores the
validation rows adding only each stage's trees; training ends by making the model canonical instead
of a pickle round trip per stage. Each is checked here against what it replaced.
"""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from tasks.classifier import features, modeling, synthetic, target, training
from tasks.classifier.families import hgb
from tasks.classifier.params import TrainParams
from tests.tasks.classifier.tasks15_models import diabetes, fit_resumed, split, wine


@pytest.fixture(scope="module")
def wide_matrices():
    """A small wide file, preprocessed: (X_train, y_train, X_validation, y_validation)."""
    from tasks.classifier import cleaning, schema

    cleaned, _ = cleaning.clean(synthetic.wide(2_500, 40), "y")
    sch = schema.infer(cleaned, "y", "yes")
    train, validation, _ = features.split(cleaned, sch, 0.2, 0.2, 42)
    pre = features.fit_preprocessor(train, sch)
    columns = list(sch.features)
    return (pre.transform(train[columns]), sch.encode_target(train[sch.target]).to_numpy(),
            pre.transform(validation[columns]), sch.encode_target(validation[sch.target]).to_numpy())


def test_staged_hgb_grows_the_trees_of_plain_warm_starts(wide_matrices):
    X, y, Xv, _ = wide_matrices
    params = TrainParams(n_estimators=30, stage_size=5, estimator="hgb")
    staged = hgb.new(params, "classifier")
    plain = HistGradientBoostingClassifier(**staged.get_params())  # the same settings, no caches
    for trees in range(5, 31, 5):
        hgb.grow(staged, trees, X, y)
        plain.set_params(max_iter=trees).fit(X, y)
    assert [p.nodes.tobytes() for (p,) in staged._predictors] == [p.nodes.tobytes() for (p,) in plain._predictors]
    assert np.array_equal(staged.predict_proba(Xv), plain.predict_proba(Xv))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_incremental_validation_scores_are_the_models_own(wide_matrices, kind):
    if kind == "binary":
        X, y, Xv, _ = wide_matrices
    else:
        frame, name, task = (wine(), "cultivar", "classifier") if kind == "multiclass" else (diabetes(), "progression", "regression")
        sch, train, validation, _ = split(frame, name, task)
        pre = features.fit_preprocessor(train, sch)
        X, y = pre.transform(train[list(sch.features)]), sch.encode_target(train[sch.target]).to_numpy()
        Xv = pre.transform(validation[list(sch.features)])
    estimator_type = target.KINDS[kind].estimator_type
    model = hgb.new(TrainParams(n_estimators=20, stage_size=4, estimator="hgb"), estimator_type)
    scoring = hgb.incremental(Xv)
    for trees in range(4, 21, 4):
        hgb.grow(model, trees, X, y)
        assert np.array_equal(target.KINDS[kind].scores(scoring(model), Xv), target.KINDS[kind].scores(model, Xv))
    hgb.keep_first(model, 9)  # cut back, as early stopping does: the sums start over
    assert np.array_equal(target.KINDS[kind].scores(scoring(model), Xv), target.KINDS[kind].scores(model, Xv))


def _bytes(model) -> tuple[bytes, bytes]:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return pickle.dumps(model), buffer.getvalue()


@pytest.mark.parametrize("family", ["gb", "hgb"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_a_model_resumed_at_any_stage_pickles_to_the_uninterrupted_bytes(wide_matrices, family, kind):
    if kind == "binary":
        X, y, Xv, yv = wide_matrices
        classes = 2
    else:
        frame, name, task = (wine(), "cultivar", "classifier") if kind == "multiclass" else (diabetes(), "progression", "regression")
        sch, train, validation, _ = split(frame, name, task)
        pre = features.fit_preprocessor(train, sch)
        X, y = pre.transform(train[list(sch.features)]), sch.encode_target(train[sch.target]).to_numpy()
        Xv, yv = pre.transform(validation[list(sch.features)]), sch.encode_target(validation[sch.target]).to_numpy()
        classes = len(sch.labels)
    params = TrainParams(n_estimators=20, stage_size=5, early_stopping_stages=0, estimator=family,
                         subsample=0.8 if family == "gb" else 1.0)

    def run(stop_after: int | None):
        saved = []

        class Interrupt(Exception):
            pass

        def after_stage(state):
            if len(state.history) == stop_after:
                saved.append(pickle.dumps(state))  # what a checkpoint holds
                raise Interrupt

        try:
            state = training.train(X, y, Xv, yv, params, after_stage=after_stage, kind=kind, classes=classes)
        except Interrupt:
            state = training.train(X, y, Xv, yv, params, state=pickle.loads(saved[0]), kind=kind, classes=classes)
        return state

    fresh = run(None)
    for stage in (1, 2, 4):  # 4: the finished state, resumed with nothing left to grow
        resumed = run(stage)
        assert resumed.history == fresh.history
        assert _bytes(resumed.model) == _bytes(fresh.model), f"resumed after stage {stage}: other bytes"


def test_fit_on_the_wide_file_ships_the_same_scores_with_or_without_an_interruption():
    """modeling.fit end to end on the wide file's shape (hgb by rows x columns), interrupted at stage 2."""
    from tasks.classifier import cleaning, schema

    cleaned, _ = cleaning.clean(synthetic.wide(5_000, 300), "y")
    sch = schema.infer(cleaned, "y", "yes")
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, 42)
    pre = features.fit_preprocessor(train, sch)
    params = TrainParams(n_estimators=40)
    fresh = modeling.fit(train, validation, sch, pre, params)
    assert type(fresh.state.model).__name__ == "StagedHistGradientBoostingClassifier"
    resumed = fit_resumed(train, validation, sch, pre, params)
    rows = test[list(sch.features)]
    assert np.array_equal(resumed.pipeline.predict_proba(rows), fresh.pipeline.predict_proba(rows))
    assert resumed.metrics == fresh.metrics and resumed.threshold == fresh.threshold
    assert _bytes(resumed.pipeline) == _bytes(fresh.pipeline)
