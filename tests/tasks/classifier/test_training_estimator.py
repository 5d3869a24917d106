"""The estimator by size or by parameter; HistGradientBoosting keeps the staged, resumable training."""

import io
import json
import pickle

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.metrics import log_loss

from common.errors import ConfigError
from pipeline.spec import TRAIN_PARAMS
from tasks.classifier import features, modeling
from tasks.classifier.training import HGB_FROM_ROWS, TrainParams, choose_estimator, new_state, run_stage


@pytest.mark.parametrize(
    "estimator, subsample, rows, chosen",
    [
        ("auto", 1.0, HGB_FROM_ROWS - 1, "gb"),
        ("auto", 1.0, HGB_FROM_ROWS, "hgb"),
        ("auto", 0.8, HGB_FROM_ROWS * 4, "gb"),  # row subsampling asked for: only GradientBoosting has it
        ("gb", 1.0, HGB_FROM_ROWS * 4, "gb"),
        ("hgb", 1.0, 10, "hgb"),
    ],
)
def test_the_estimator_is_chosen_by_parameter_or_by_size(estimator, subsample, rows, chosen):
    params = TrainParams(estimator=estimator, subsample=subsample)
    assert choose_estimator(params, rows) == chosen
    model = new_state(params, rows).model
    assert isinstance(model, {"gb": GradientBoostingClassifier, "hgb": HistGradientBoostingClassifier}[chosen])
    assert not isinstance(model, {"gb": HistGradientBoostingClassifier, "hgb": GradientBoostingClassifier}[chosen])


def test_hgb_with_subsampling_is_refused_naming_both_parameters():
    with pytest.raises(ConfigError, match="'subsample' = 0.5.*estimator=gb"):
        choose_estimator(TrainParams(estimator="hgb", subsample=0.5), 100)


def test_the_step_declares_the_choice():
    param = TRAIN_PARAMS["estimator"]
    assert param.default == "auto" and set(param.choices) == {"auto", "gb", "hgb"}


def prepared(lending_split):
    sch, train, validation, _ = lending_split
    pre = features.fit_preprocessor(train, sch)
    X = [pre.transform(part[list(sch.features)]) for part in (train, validation)]
    y = [sch.encode_target(part["Class"]).to_numpy() for part in (train, validation)]
    return X[0], y[0], X[1], y[1]


def test_hgb_grows_in_stages_to_the_cap(lending_split):
    X, y, Xv, yv = prepared(lending_split)
    params = TrainParams(n_estimators=25, stage_size=10, early_stopping_stages=0, estimator="hgb")
    state = new_state(params, len(y))
    sizes = []
    while not state.finished:
        run_stage(state, X, y, Xv, yv, params)
        sizes.append(state.trees)
    assert sizes == [10, 20, 25] and state.model.n_iter_ == 25


OVERFIT = TrainParams(n_estimators=400, stage_size=5, learning_rate=0.5, max_depth=6, min_samples_leaf=1, min_leaf_share=0.0,
                      early_stopping_stages=3, seed=7, estimator="hgb")


def test_hgb_early_stopping_ships_the_best_stage(lending_split):
    sch, train, validation, _ = lending_split
    train, validation = train.head(1500), validation.head(1500)
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), OVERFIT)
    history = fitted.state.history
    best = min(history, key=lambda h: h["validation_logloss"])
    assert history[-1]["trees"] > best["trees"] and fitted.state.trees == best["trees"]
    y_val = sch.encode_target(validation[sch.target])
    shipped = log_loss(y_val, fitted.pipeline.predict_proba(validation[list(sch.features)])[:, 1], labels=[0, 1])
    assert abs(shipped - best["validation_logloss"]) < 1e-12


def model_bytes(pipeline) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def test_a_resumed_hgb_run_ends_with_the_same_model_bytes(lending_split):
    sch, train, validation, _ = lending_split
    train, validation = train.head(1500), validation.head(1500)
    preprocessor = features.fit_preprocessor(train, sch)
    params = TrainParams(n_estimators=40, stage_size=5, early_stopping_stages=3, seed=3, estimator="hgb")
    fresh = modeling.fit(train, validation, sch, preprocessor, params)
    saved = []

    class Interrupt(Exception):
        pass

    def stop_after_third(state):
        if len(state.history) == 3:
            saved.append(pickle.dumps(state))  # what a checkpoint holds
            raise Interrupt

    with pytest.raises(Interrupt):
        modeling.fit(train, validation, sch, preprocessor, params, after_stage=stop_after_third)
    resumed = modeling.fit(train, validation, sch, preprocessor, params, state=pickle.loads(saved[0]))
    assert isinstance(resumed.state.model, HistGradientBoostingClassifier)
    X = validation[list(sch.features)]
    assert np.array_equal(resumed.pipeline.predict_proba(X), fresh.pipeline.predict_proba(X))
    assert resumed.state.history == fresh.state.history
    assert model_bytes(resumed.pipeline) == model_bytes(fresh.pipeline), "resumed model's pickle differs"


def test_an_hgb_artifact_is_served_by_the_fast_scorer(lending_split, tmp_path):
    from serving.scorer import FastScorer, PipelineScorer, compile_scorer
    from serving.decode import Decoder
    from tasks.classifier import artifact

    sch, train, validation, test = lending_split
    params = TrainParams(n_estimators=30, stage_size=10, estimator="hgb")
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), params)
    artifact.save(tmp_path, fitted.pipeline, sch, fitted.threshold, test.head(3),
                  estimator=type(fitted.state.model).__name__)
    model = artifact.load(tmp_path)
    scorer = compile_scorer(model)
    assert isinstance(scorer, FastScorer)
    rows = test.head(50)[list(sch.features)]
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    batch = Decoder(sch).decode("json", json.dumps(records).encode())
    np.testing.assert_allclose(scorer.predict_proba(batch), PipelineScorer(model).predict_proba(batch), rtol=0, atol=1e-12)
