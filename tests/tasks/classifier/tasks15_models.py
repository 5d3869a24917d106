"""Real multi-class and regression data (scikit-learn's bundled sets, offline) and models trained on them
through the training core, shared by the tests of issue 15's tasks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes, load_wine

from tasks.classifier import artifact, cleaning, features, modeling, schema
from tasks.classifier.params import TrainParams

FAST = TrainParams(n_estimators=40, stage_size=10)


def wine() -> pd.DataFrame:
    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["cultivar"] = [data.target_names[t] for t in data.target]
    return frame


def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})


def split(frame: pd.DataFrame, target: str, task: str = "classifier", seed: int = 42):
    cleaned, _ = cleaning.clean(frame, target)
    sch = schema.infer(cleaned, target, "", task=task)
    return (sch, *features.split(cleaned, sch, 0.2, 0.2, seed))


def trained(model_dir: Path, frame: pd.DataFrame, target: str, task: str = "classifier", params: TrainParams = FAST):
    """(model directory, schema, test rows) of a model trained and saved as train.py does."""
    sch, train, validation, test = split(frame, target, task)
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), params)
    artifact.save(model_dir, fitted.pipeline, sch, fitted.threshold, validation.head(3),
                  params={"trees": fitted.state.trees}, metrics=fitted.metrics, target_mean=fitted.target_mean)
    return model_dir, sch, test


class Interrupted(Exception):
    pass


def fit_resumed(train, validation, sch, pre, params: TrainParams, stop_after: int = 2):
    """modeling.fit stopped after `stop_after` stages (the state pickled as a checkpoint holds it), then
    resumed from that state in a fresh fit: what a job restarted from its checkpoint ships."""
    import pickle

    saved = []

    def stop(state):
        if len(state.history) == stop_after:
            saved.append(pickle.dumps(state))
            raise Interrupted

    try:
        modeling.fit(train, validation, sch, pre, params, after_stage=stop)
    except Interrupted:
        pass
    assert saved, f"training finished before stage {stop_after}"
    return modeling.fit(train, validation, sch, pre, params, state=pickle.loads(saved[0]))
