import numpy as np

from tasks.classifier import features, modeling
from tasks.classifier.training import TrainParams, choose_threshold, new_state, run_stage


def prepared(lending_split):
    sch, train, validation, _ = lending_split
    pre = features.fit_preprocessor(train, sch)
    X = [pre.transform(part[list(sch.features)]) for part in (train, validation)]
    y = [sch.encode_target(part["Class"]).to_numpy() for part in (train, validation)]
    return X[0], y[0], X[1], y[1]


def test_stages_grow_trees_and_stop_at_the_cap(lending_split):
    X, y, Xv, yv = prepared(lending_split)
    params = TrainParams(n_estimators=25, stage_size=10, early_stopping_stages=0)
    state = new_state(params)
    sizes = []
    while not state.finished:
        run_stage(state, X, y, Xv, yv, params)
        sizes.append(state.trees)
    assert sizes == [10, 20, 25]
    assert [h["trees"] for h in state.history] == sizes


def test_early_stopping_ends_before_the_cap(lending_split):
    X, y, Xv, yv = prepared(lending_split)
    params = TrainParams(n_estimators=2000, stage_size=50, learning_rate=0.3, early_stopping_stages=2)
    state = new_state(params)
    while not state.finished:
        run_stage(state, X, y, Xv, yv, params)
    assert state.trees < 2000 and state.stale_stages == 2


def test_fit_gives_a_pipeline_that_scores_raw_rows(lending_split):
    sch, train, validation, test = lending_split
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), TrainParams(n_estimators=40))
    proba = fitted.pipeline.predict_proba(test[list(sch.features)])[:, 1]
    assert proba.shape == (len(test),) and 0 < proba.min() < proba.max() < 1
    assert fitted.validation_auc > 0.65  # the default data is learnable: well above chance
    assert 0 < fitted.threshold < 1


def test_threshold_maximises_f1():
    y = np.array([0, 0, 1, 1, 0, 1])
    proba = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    # cutting at 0.35 catches every positive with one false alarm: F1 = 6/7, the best possible here
    assert choose_threshold(y, proba) == 0.35
    assert choose_threshold(np.zeros(3), np.array([0.1, 0.2, 0.3])) == 0.5
