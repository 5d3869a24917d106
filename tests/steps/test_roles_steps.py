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


def test_the_roles_step_pins_the_roles_that_every_clean_instance_applies(tmp_path, engine):
    frame = generate(rows=1600, seed=6)
    # 60 codes in one file, 150 in the other: inferred per shard, categorical on one host and high
    # cardinality on the other (feature refused that); inferred once, high cardinality on both
    frame["code"] = [f"c{k % 60}" for k in range(800)] + [f"c{k % 150}" for k in range(800)]
    raw = _raw(tmp_path, {"part-0.csv": frame.iloc[:800], "part-1.csv": frame.iloc[800:]})
    session = LocalSession(tmp_path / "run", engine)
    pinned = session.run(job("roles", {"raw": raw}, {**ARGS, "datetime_columns": "created"}))
    roles_file = json.loads((pinned.outputs["roles"] / "roles.json").read_text())
    assert roles_file["sample"]["rows_read"] == 1600 and roles_file["roles"]["roles"]["code"] == "high_cardinality"
    clean = session.run(job("clean", {"raw": raw, "roles": pinned.outputs["roles"]}, {"target": "returned"},
                            instance_count=2))
    cleaned = clean.outputs["cleaned"]
    schemas = [json.loads((cleaned / f"schema-{host}.json").read_text()) for host in ("algo-1", "algo-2")]
    assert schemas[0]["roles"] == schemas[1]["roles"] == roles_file["schema"]["roles"]
    assert {s["class_counts"]["yes"] for s in schemas} != {0}  # each host cleaned its own file
    report = json.loads((cleaned / "report-algo-2.json").read_text())
    assert report["roles"]["source"] == "the roles step" and report["roles"]["evidence"]["created"]["source"] == "declared"
    session.run(job("feature", {"cleaned": cleaned}))

    with pytest.raises(StepFailed) as failure:  # role arguments go to the roles step, not to clean
        LocalSession(tmp_path / "args", engine).run(job("clean", {"raw": raw, "roles": pinned.outputs["roles"]},
                                                        {"target": "returned", "text_columns": "review"}))
    assert failure.value.code == 2 and "give those to the roles step" in failure.value.reason

    words = frame.iloc[800:].assign(created=["soon", "later", "someday", "never"] * 200)
    (tmp_path / "contradicting").mkdir()
    contradicting = _raw(tmp_path / "contradicting", {"part-0.csv": frame.iloc[:800], "part-1.csv": words})
    with pytest.raises(StepFailed) as failure:  # algo-2's dates are words: it fails, naming the column
        LocalSession(tmp_path / "run2", engine).run(job("clean", {"raw": contradicting, "roles": pinned.outputs["roles"]},
                                                        {"target": "returned"}, instance_count=2))
    assert failure.value.host == "algo-2" and "column 'created' is declared datetime" in failure.value.reason
