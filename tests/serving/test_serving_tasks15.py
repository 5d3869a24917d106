"""Serving answers per kind of model: multi-class (label and named class probabilities) and regression
(the predicted value), in JSON and CSV, real-time and in batch transform mini-batches, fast path and
pipeline alike."""

import csv
import json

import numpy as np
import pytest

from serving.batch import BatchOptions
from serving.handler import Handler
from serving.scorer import FastScorer, PipelineScorer
from tasks.classifier import artifact
from tests.tasks.classifier.tasks15_models import diabetes, trained, wine


@pytest.fixture(scope="module")
def wine_served(tmp_path_factory):
    model_dir, sch, test = trained(tmp_path_factory.mktemp("wine"), wine(), "cultivar")
    return artifact.load(model_dir), test


@pytest.fixture(scope="module")
def diabetes_served(tmp_path_factory):
    model_dir, sch, test = trained(tmp_path_factory.mktemp("diabetes"), diabetes(), "progression", task="regression")
    return artifact.load(model_dir), test


def body(model, rows) -> bytes:
    return rows[list(model.schema.features)].to_csv(index=False, header=False).encode()


def test_multiclass_json_names_each_class(wine_served):
    model, test = wine_served
    handler = Handler(model)
    assert isinstance(handler.scorer, FastScorer)  # the fast path reproduced the pipeline on the verification rows
    answer = handler.invocations("text/csv", "application/json", body(model, test.head(4)))
    assert answer.status == 200
    predictions = json.loads(answer.body)["predictions"]
    expected = model.predict(test.head(4))
    for record, proba in zip(predictions, expected):
        assert list(record["probabilities"]) == list(model.schema.labels)  # the stated order
        assert np.allclose(list(record["probabilities"].values()), proba, rtol=0, atol=1e-12)
        assert record["label"] == model.schema.labels[int(np.argmax(proba))]


def test_multiclass_csv_is_label_then_probabilities_in_the_stated_order(wine_served):
    model, test = wine_served
    answer = Handler(model).invocations("text/csv", "text/csv", body(model, test.head(3)))
    lines = answer.body.decode().splitlines()
    assert len(lines) == 3 and model.metadata["outputs"]["csv_columns"][0] == "label"
    for line, proba in zip(lines, model.predict(test.head(3))):
        label, *numbers = line.split(",")
        assert label in model.schema.labels and np.allclose([float(n) for n in numbers], proba, rtol=0, atol=1e-12)


def test_regression_answers_the_number(diabetes_served):
    model, test = diabetes_served
    handler = Handler(model)
    expected = model.predict(test.head(5))
    records = json.loads(handler.invocations("text/csv", "application/json", body(model, test.head(5))).body)["predictions"]
    assert [r["prediction"] for r in records] == pytest.approx(expected.tolist(), abs=1e-9)
    lines = handler.invocations("text/csv", "text/csv", body(model, test.head(5))).body.decode().splitlines()
    assert [float(v) for v in lines] == pytest.approx(expected.tolist(), abs=1e-9)
    answer = handler.invocations("application/json", "application/json", json.dumps(
        {"instances": test.head(2)[list(model.schema.features)].to_dict("records")}).encode())
    assert answer.status == 200 and len(json.loads(answer.body)["predictions"]) == 2


@pytest.mark.parametrize("which", ["wine_served", "diabetes_served"])
def test_fast_path_equals_the_pipeline_with_gaps(which, request):
    model, test = request.getfixturevalue(which)
    rows = test.head(20)[list(model.schema.features)].astype(object)
    rows.iloc[::3, 0] = None
    handler = Handler(model)
    batch = handler.decoder.decode("csv", rows.to_csv(index=False, header=False).encode())
    np.testing.assert_allclose(handler.scorer.predict(batch), PipelineScorer(model).predict(batch), rtol=0, atol=1e-12)


@pytest.mark.parametrize("which, empty_fields", [("wine_served", ",,,"), ("diabetes_served", ",")])
def test_batch_placeholders_keep_each_kinds_field_count(which, empty_fields, request):
    """Every field empty but the last, which names the bad line (a regression's one value gains the error field)."""
    model, test = request.getfixturevalue(which)
    handler = Handler(model, batch=BatchOptions(enabled=True, bad_records="placeholder"))
    lines = body(model, test.head(4)).decode().splitlines()
    lines[1] = "oops," + lines[1].split(",", 1)[1]  # not a number in the first (numeric) column
    answer = handler.invocations("text/csv", "text/csv", "\n".join(lines).encode())
    out = answer.body.decode().split("\n")
    assert answer.status == 200 and out[1].startswith(empty_fields + '"line 2') and len(out) == 4
    scored, bad = (next(csv.reader([line])) for line in out[:2])
    assert len(bad) == len(scored) + (which == "diabetes_served") and bad[-1].startswith("line 2")
    answer = handler.invocations("text/csv", "application/json", "\n".join(lines).encode())
    records = json.loads(answer.body)["predictions"]
    assert records[1]["error"].startswith("line 2") and "error" not in records[0]
    assert set(records[1]) == set(records[0]) | {"error"} and all(records[1][k] is None for k in records[0])
