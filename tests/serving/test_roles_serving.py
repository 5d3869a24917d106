"""A model with text, date and high-cardinality columns: the fast path serves it with the pipeline's scores."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from bench.text_data import generate
from serving import scorer as scoring
from serving.decode import Decoder
from serving.handler import Handler
from tasks.classifier import artifact, cleaning, features, modeling, roles, schema
from tasks.classifier.training import TrainParams


@pytest.fixture(scope="module")
def roles_model(tmp_path_factory):
    """(model, raw test rows) trained on generated reviews: every role present."""
    cleaned, _ = cleaning.clean(generate(rows=1500, seed=21), "returned")
    sch = schema.infer(cleaned, "returned", "yes", roles=roles.infer(cleaned, "returned").roles)
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, 42)
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams(n_estimators=30, stage_size=10))
    directory = tmp_path_factory.mktemp("roles-model")
    artifact.save(directory, fitted.pipeline, sch, fitted.threshold, test.head(3))
    return artifact.load(directory), test.reset_index(drop=True)


def test_the_fast_path_serves_text_dates_and_frequencies_with_the_pipelines_scores(roles_model):
    model, test = roles_model
    fast = scoring.compile_scorer(model)
    assert fast.name == "fast" and [type(step).__name__ for step, _, _ in fast.extras] == [
        "TextScore", "DateFeatures", "FrequencyEncoder"]
    frame = test[list(model.schema.features)].astype(object)
    rng = np.random.default_rng(0)
    frame = frame.mask(rng.random(frame.shape) < 0.1)  # 10% missing everywhere
    frame.loc[rng.random(len(frame)) < 0.2, "store"] = "S9999"  # unseen in training
    frame.loc[rng.random(len(frame)) < 0.2, "created"] = "2031-07-01"  # beyond every training date
    frame.loc[rng.random(len(frame)) < 0.1, "created"] = "soon"  # not a date
    batch = Decoder(model.schema).decode("json", json.dumps(frame.where(frame.notna(), None).to_dict("records")).encode())
    expected = scoring.PipelineScorer(model).predict_proba(batch)
    np.testing.assert_allclose(fast.predict_proba(batch), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expected, model.predict_proba(frame), rtol=0, atol=1e-12)


def test_headerless_csv_carries_the_features_in_schema_order_without_ids_or_constants(roles_model):
    model, test = roles_model
    assert list(model.schema.features) == ["created", "product", "store", "price", "review"]
    handler = Handler(model, max_payload_bytes=1 << 20)
    assert handler.scorer.name == "fast"
    rows = test.head(20)
    body = rows[list(model.schema.features)].to_csv(index=False, header=False).encode()
    answer = handler.invocations("text/csv", "application/json", body)
    assert answer.status == 200
    served = [p["probability"] for p in json.loads(answer.body)["predictions"]]
    np.testing.assert_allclose(served, model.predict_proba(rows), rtol=0, atol=1e-12)
    with_ids = handler.invocations("text/csv", "application/json", rows.to_csv(index=False).encode())  # a header: by name
    assert with_ids.status == 200 and json.loads(with_ids.body) == json.loads(answer.body)


def test_an_encoder_of_a_column_not_served_as_text_sends_serving_to_the_pipeline(roles_model):
    model, _ = roles_model
    changed = copy.deepcopy(model)
    transformer = changed.pipeline.steps[0][1]
    transformer.transformers_ = [(n, s, ["price"] if n == "frequency" else c) for n, s, c in transformer.transformers_]
    assert scoring.compile_scorer(changed).name == "pipeline"
