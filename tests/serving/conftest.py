"""Serving fixtures: the real artifact, raw test rows, and `scripts/serve` as a real process on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serve_process import Server, serving_tree


@pytest.fixture(scope="session")
def model(model_dir):
    from tasks.classifier import artifact

    return artifact.load(model_dir)


@pytest.fixture(scope="session")
def rows(lending_split, model):
    """Raw test rows with their target and id columns, as a client holds them."""
    return lending_split[3].reset_index(drop=True)


@pytest.fixture(scope="session")
def handler(model):
    from serving.handler import Handler

    return Handler(model, max_payload_bytes=1024 * 1024)


def train_small_artifact(directory: Path, parts, target: str = "Class", **schema_overrides):
    """A small model (20 trees) on (train, validation, test) frames, with the schema inferred from them."""
    from tasks.classifier import artifact, features, modeling, schema
    from tasks.classifier.training import TrainParams

    train, validation, test = parts
    sch = schema.infer(pd.concat([train, validation]), target, "bad", ["rownames"], **schema_overrides)
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams(n_estimators=20, stage_size=20))
    artifact.save(directory, fitted.pipeline, sch, fitted.threshold, test.head(3))
    return artifact.load(directory)


@pytest.fixture(scope="session", params=["numeric", "categorical"])
def one_sided_model(request, tmp_path_factory, lending_split):
    """(model, test rows) of a model trained with only numeric, or only categorical, features."""
    sch, *parts = lending_split
    keep = list(sch.numeric if request.param == "numeric" else sch.categorical) + ["rownames", "Class"]
    parts = [part[keep] for part in parts]
    model = train_small_artifact(tmp_path_factory.mktemp(f"{request.param}-only"), parts)
    assert (bool(model.schema.numeric), bool(model.schema.categorical)) == (
        request.param == "numeric", request.param == "categorical")
    return model, parts[2]


@pytest.fixture(scope="session")
def integer_category_model(tmp_path_factory, lending_split):
    """(model, test rows) of a model whose categorical 'sub_grade' held integers in training (A1 -> 11, C4 -> 34)."""
    sch, *parts = lending_split

    def as_integer(grade: str) -> int:
        return (ord(grade[0]) - ord("A") + 1) * 10 + int(grade[1:])

    parts = [part.assign(sub_grade=part["sub_grade"].map(as_integer).astype("int64")) for part in parts]
    model = train_small_artifact(tmp_path_factory.mktemp("integer-category"), parts,
                                 categorical=list(sch.categorical))
    assert "sub_grade" in model.schema.categorical
    return model, parts[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir):
    """One healthy server shared by a module's HTTP tests; 64 KiB payload limit to test 413 cheaply."""
    base = serving_tree(tmp_path_factory.mktemp("serve"), model_dir)
    srv = Server(base, SAGEMAKER_MAX_PAYLOAD_IN_MB="0.0625")
    try:
        srv.wait_for(200)
        yield srv
    finally:
        srv.stop()
