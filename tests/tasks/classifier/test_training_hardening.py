"""Hardening (issue 11, items 5 and 10): early stopping ships the best stage; a resumed model has the same bytes."""

import io
import pickle

import joblib
import numpy as np
from sklearn.metrics import log_loss

from tasks.classifier import features, modeling
from tasks.classifier.training import TrainParams

OVERFIT = TrainParams(n_estimators=400, stage_size=5, learning_rate=0.5, max_depth=6, min_samples_leaf=1, min_leaf_share=0.0,
                      early_stopping_stages=3, subsample=0.8, seed=7)


def small(lending_split, rows=1500):
    sch, train, validation, _ = lending_split
    return sch, train.head(rows), validation.head(rows)


def test_early_stopping_ships_the_best_stage_not_the_last(lending_split):
    sch, train, validation = small(lending_split)
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, OVERFIT)
    history = fitted.state.history
    best = min(history, key=lambda h: h["validation_logloss"])
    assert history[-1]["trees"] > best["trees"], "the overfitting setup should stop early"
    assert fitted.state.trees == best["trees"], (
        f"shipped {fitted.state.trees} trees, the best validation log-loss was at {best['trees']}")
    y_val = sch.encode_target(validation[sch.target])
    shipped = log_loss(y_val, fitted.pipeline.predict_proba(validation[list(sch.features)])[:, 1], labels=[0, 1])
    assert abs(shipped - best["validation_logloss"]) < 1e-12 and abs(fitted.validation_logloss - shipped) < 1e-12


def model_bytes(pipeline) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def test_a_resumed_run_ends_with_the_same_model_bytes(lending_split):
    sch, train, validation = small(lending_split)
    preprocessor = features.fit_preprocessor(train, sch)
    params = TrainParams(n_estimators=40, stage_size=5, subsample=0.8, early_stopping_stages=3, seed=3)
    fresh = modeling.fit(train, validation, sch, preprocessor, params)

    saved = []

    class Interrupt(Exception):
        pass

    def stop_after_third(state):
        if len(state.history) == 3:
            saved.append(pickle.dumps(state))  # what a checkpoint holds
            raise Interrupt

    try:
        modeling.fit(train, validation, sch, preprocessor, params, after_stage=stop_after_third)
    except Interrupt:
        pass
    resumed = modeling.fit(train, validation, sch, preprocessor, params, state=pickle.loads(saved[0]))
    X = validation[list(sch.features)]
    assert np.array_equal(resumed.pipeline.predict_proba(X), fresh.pipeline.predict_proba(X))
    assert resumed.state.history == fresh.state.history
    assert model_bytes(resumed.pipeline) == model_bytes(fresh.pipeline), "resumed model's pickle differs"
