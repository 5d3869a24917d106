"""Column roles through the real clean.py and feature.py: report, overrides, refusals, shards that disagree."""

from __future__ import annotations

import json

import pytest

from bench.text_data import generate
from localrun.runner import LocalSession, StepFailed
from pipeline.spec import SHARDED_BY_S3_KEY
from tests.steps.conftest import job

ARGS = {"target": "returned", "positive_label": "yes"}


def _raw(tmp_path, frames: dict):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, frame in frames.items():
        frame.to_csv(raw / name, index=False)
    return raw


def test_clean_reports_roles_with_overrides_and_feature_writes_baselines_by_role(tmp_path, engine):
    raw = _raw(tmp_path, {"reviews.csv": generate(rows=1200, seed=2)})
    session = LocalSession(tmp_path / "run", engine)
    args = {**ARGS, "feature_columns": "order_no", "roles": json.dumps({"roles": {"store": "categorical"}}),
            "text_columns": "review"}
    clean = session.run(job("clean", {"raw": raw}, args))
    cleaned = clean.outputs["cleaned"]
    report = json.loads((cleaned / "report-algo-1.json").read_text())["roles"]
    assert report["roles"] == {"review_id": "identifier", "order_no": "numeric", "created": "datetime",
                               "product": "categorical", "store": "categorical", "price": "numeric",
                               "currency": "constant", "review": "text"}
    assert report["evidence"]["order_no"]["source"] == "kept as a feature"
    assert report["evidence"]["store"]["source"] == report["evidence"]["review"]["source"] == "declared"
    assert report["thresholds"]["leakage_score"] == 0.99 and len(report["warnings"]) == 2
    schema = json.loads((cleaned / "schema-algo-1.json").read_text())
    assert schema["id_columns"] == ["review_id"] and schema["roles"] == report["roles"]
    feature = session.run(job("feature", {"cleaned": cleaned}))
    statistics = json.loads((feature.outputs["baseline"] / "statistics.json").read_text())
    by_name = {f["name"]: f for f in statistics["features"]}
    assert set(by_name) == {"order_no", "created", "product", "store", "price", "review"}
    assert by_name["review"]["role"] == "text" and by_name["review"]["text_statistics"]["vocabulary_size"] > 50
    assert by_name["created"]["role"] == "datetime" and by_name["created"]["datetime_statistics"]["span_days"] > 800
    assert statistics["excluded_columns"] == ["review_id", "currency"]


def test_clean_refuses_a_leakage_suspect_when_asked_naming_it(tmp_path, engine):
    frame = generate(rows=600, seed=4)
    frame["refund_issued"] = frame["returned"].map({"yes": "Y", "no": "N"})
    raw = _raw(tmp_path, {"reviews.csv": frame})
    session = LocalSession(tmp_path / "run", engine)
    with pytest.raises(StepFailed) as failure:
        session.run(job("clean", {"raw": raw}, {**ARGS, "leakage": "refuse"}))
    assert failure.value.code == 2 and "leakage suspects ['refund_issued']" in failure.value.reason


def test_shards_whose_data_contradict_the_roles_fail_naming_the_column(tmp_path, engine):
    frame = generate(rows=800, seed=6)
    second = frame.iloc[400:].assign(created=["soon", "later", "someday", "never"] * 100)
    raw = _raw(tmp_path, {"part-0.csv": frame.iloc[:400], "part-1.csv": second})
    session = LocalSession(tmp_path / "run", engine)
    clean = session.run(job("clean", {"raw": raw}, ARGS, instance_count=2, distribution=SHARDED_BY_S3_KEY))
    with pytest.raises(StepFailed) as failure:  # inferred per shard: feature sees them disagree
        session.run(job("feature", {"cleaned": clean.outputs["cleaned"]}))
    assert failure.value.code == 2 and "created: categorical -> datetime" in failure.value.reason
    pinned = LocalSession(tmp_path / "pinned", engine)
    with pytest.raises(StepFailed) as failure:  # pinned: the host whose data contradicts fails in clean
        pinned.run(job("clean", {"raw": raw}, {**ARGS, "datetime_columns": "created"}, instance_count=2,
                       distribution=SHARDED_BY_S3_KEY))
    assert failure.value.host == "algo-2" and "column 'created' is declared datetime" in failure.value.reason
