"""Column roles inferred from generated data, with their evidence; declared roles and their checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.text_data import generate
from common.errors import ConfigError, DataError
from tasks.classifier import cleaning, roles, schema

EXPECTED = {
    "review_id": "identifier", "order_no": "identifier", "created": "datetime", "product": "categorical",
    "store": "high_cardinality", "price": "numeric", "currency": "constant", "review": "text",
}


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    cleaned, _ = cleaning.clean(generate(rows=2000, seed=3), "returned")
    return cleaned


def test_every_role_is_inferred_with_its_evidence_and_thresholds(reviews):
    found = roles.infer(reviews, "returned")
    assert found.roles == EXPECTED
    report = found.report()
    assert report["thresholds"]["identifier_unique_share"] == roles.IDENTIFIER_UNIQUE_SHARE
    assert report["thresholds"]["high_cardinality_distinct"] == roles.HIGH_CARDINALITY_DISTINCT
    assert report["thresholds"]["leakage_score"] == roles.LEAKAGE_SCORE
    assert report["evidence"]["review_id"]["uuid_share"] == 1.0
    assert report["evidence"]["store"]["distinct"] == 300
    assert report["evidence"]["review"]["median_tokens"] >= roles.TEXT_MIN_MEDIAN_TOKENS
    assert report["evidence"]["review"]["leakage"] == "not assessed (text)"
    assert report["evidence"]["price"]["leakage_auc"] < roles.LEAKAGE_SCORE  # weak: price barely matters
    assert any("'order_no' looks like an identifier" in w and "FEATURES=order_no" in w for w in found.warnings)
    assert any("'currency' is constant" in w for w in found.warnings)
    assert found.leakage_suspects == []
    json.dumps(report)  # the report is written as JSON


def test_floats_are_never_identifiers_and_small_data_has_none():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "n": np.arange(500), "y": rng.choice(["a", "b"], 500)})
    assert roles.infer(frame, "y").roles == {"x": "numeric", "n": "identifier"}
    small = frame.head(roles.IDENTIFIER_MIN_ROWS - 1)
    assert roles.infer(small, "y").roles == {"x": "numeric", "n": "numeric"}


def test_multi_word_categories_are_not_text_and_unique_strings_are_identifiers():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "tenure": rng.choice(["less than one year", "one to five years", "more than five years"], 400),
        "code": [f"C{i:06d}x" for i in rng.permutation(400)],
        "y": rng.choice(["a", "b"], 400),
    })
    assert roles.infer(frame, "y").roles == {"tenure": "categorical", "code": "identifier"}


def test_a_copy_of_the_target_is_a_leakage_suspect_refused_on_request_text_never(reviews):
    frame = reviews.assign(refund_issued=reviews["returned"].map({"yes": "Y", "no": "N"}),
                           note=reviews["returned"].map({"yes": "customer returned the item", "no": "customer kept the item"})
                           + " " + reviews["review"])
    found = roles.infer(frame, "returned")
    assert found.leakage_suspects == ["refund_issued"] and found.roles["note"] == "text"
    assert found.evidence["refund_issued"]["leakage_auc"] >= roles.LEAKAGE_SCORE
    with pytest.raises(DataError, match=r"leakage suspects \['refund_issued'\].*0.99"):
        roles.infer(frame, "returned", leakage="refuse")
    kept = roles.infer(frame, "returned", keep_features=["refund_issued"], leakage="refuse")
    assert kept.roles["refund_issued"] == "categorical"


def test_declared_roles_win_and_kept_features_are_not_excluded(reviews):
    declared = roles.declared_roles(text=["product"], datetime=[], roles_file={"store": "categorical", "price": "numeric"})
    found = roles.infer(reviews, "returned", declared, keep_features=["order_no", "currency"])
    assert found.roles["product"] == "text" and found.roles["store"] == "categorical"
    assert found.roles["order_no"] == "numeric" and found.roles["currency"] == "categorical"
    assert found.evidence["product"]["source"] == "declared"
    assert found.evidence["order_no"]["source"] == "kept as a feature"


def test_roles_file_formats_and_errors_name_the_column():
    assert roles.read_roles_file('{"review": "text"}') == {"review": "text"}
    assert roles.read_roles_file('{"roles": {"review": "text"}, "evidence": {}}') == {"review": "text"}
    assert roles.read_roles_file("") == {}
    with pytest.raises(ConfigError, match="column 'review' has role 'words'"):
        roles.read_roles_file('{"review": "words"}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        roles.read_roles_file("{review: text}")
    with pytest.raises(ConfigError, match="column 'a' is declared both text and datetime"):
        roles.declared_roles(text=["a"], datetime=["a"])


def test_a_declared_datetime_the_data_contradicts_fails_naming_it(reviews):
    with pytest.raises(DataError, match=r"column 'product' is declared datetime but 100.0% of its values"):
        roles.infer(reviews, "returned", {"product": "datetime"})
    with pytest.raises(DataError, match=r"column\(s\) \['nope'\] not found"):
        roles.infer(reviews, "returned", {"nope": "text"})


def test_schema_carries_the_roles_ids_and_served_columns(reviews):
    found = roles.infer(reviews, "returned")
    sch = schema.infer(reviews, "returned", "yes", roles=found.roles)
    assert sch.id_columns == ("review_id", "order_no")
    assert sch.order == ("created", "product", "store", "price", "review")  # constants and ids are not features
    assert sch.numeric == ("price",) and sch.categorical == ("created", "product", "store", "review")
    assert sch.columns("text") == ("review",) and sch.columns("categorical") == ("product",)
    again = schema.Schema.from_dict(json.loads(json.dumps(sch.to_dict())))
    assert again == sch and again.agrees_with(sch)
    other = schema.infer(reviews, "returned", "yes", roles={**found.roles, "created": "categorical"})
    assert sch.role_differences(other) == ["created: datetime -> categorical"] and not sch.agrees_with(other)


def test_schemas_written_before_roles_read_as_numeric_and_categorical():
    old = {"target": "y", "positive_label": "a", "negative_label": "b", "numeric": ["x"], "categorical": ["c"]}
    sch = schema.Schema.from_dict(old)
    assert sch.roles == {} and sch.role("x") == "numeric" and sch.columns("categorical") == ("c",)
