"""The target decides the kind: binary, multi-class (more than two classes), regression (TASK=regression)."""

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from tasks.classifier import features, schema, target
from tests.tasks.classifier.tasks15_models import diabetes, split, wine


def test_three_classes_are_multiclass_with_labels_as_the_data_has_them():
    sch = schema.infer(wine(), "cultivar", "")
    assert sch.kind == "multiclass" and sch.labels == ("class_0", "class_1", "class_2")
    assert sch.positive_label == "" and "cultivar" not in sch.features
    codes = sch.encode_target(pd.Series(["class_2", "class_0"]))
    assert codes.tolist() == [2, 0]


def test_numeric_classes_keep_their_numeric_order():
    frame = pd.DataFrame({"x": range(12), "grade": [1, 2, 10] * 4})
    assert schema.infer(frame, "grade", "").labels == ("1", "2", "10")


def test_two_classes_stay_binary_and_need_the_positive_label(lending_club):
    sch = schema.infer(lending_club, "Class", "bad", ["rownames"])
    assert sch.kind == "binary" and sch.labels == ("good", "bad")
    with pytest.raises(DataError, match=r"two classes \['bad', 'good'\]: name the positive one"):
        schema.infer(lending_club, "Class", "", ["rownames"])


def test_a_positive_label_with_more_classes_is_refused():
    with pytest.raises(DataError, match="multi-class target has no positive label, but 'class_0' was given"):
        schema.infer(wine(), "cultivar", "class_0")


def test_a_numeric_target_with_many_values_points_to_regression():
    with pytest.raises(DataError, match=r"numeric with \d+ distinct values \(more than 20\).*TASK=regression"):
        schema.infer(diabetes(), "progression", "")
    sch = schema.infer(diabetes(), "progression", "", task="regression")
    assert sch.kind == "regression" and sch.labels == ()
    assert sch.encode_target(pd.Series([1, 2.5])).tolist() == [1.0, 2.5]


def test_regression_refuses_text_targets_naming_a_value():
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["1.5", "two", "3"]})
    with pytest.raises(DataError, match="TASK=regression needs a numeric target: column 'y' row 1 holds 'two'"):
        schema.infer(frame, "y", "", task="regression")


def test_rare_classes_that_cannot_be_split_are_named():
    frame = wine()
    frame.loc[frame.index[:2], "cultivar"] = "rare"  # two rows of a fourth class
    frame.loc[frame.index[2], "cultivar"] = "single"
    sch = schema.infer(frame, "cultivar", "")
    with pytest.raises(DataError, match=r"class\(es\) 'rare' \(2 rows\), 'single' \(1 rows\) have fewer than 3 rows"):
        features.split(frame, sch, 0.15, 0.15, 0)


def test_multiclass_split_is_stratified_and_regression_split_is_not():
    sch, train, validation, test = split(wine(), "cultivar")
    shares = [part["cultivar"].value_counts(normalize=True).sort_index() for part in (train, test)]
    assert np.allclose(shares[0], shares[1], atol=0.06)
    sch, train, validation, test = split(diabetes(), "progression", task="regression")
    assert len(train) + len(validation) + len(test) == 442


def test_old_binary_schemas_still_read():
    old = {"target": "y", "positive_label": "yes", "negative_label": "no", "numeric": ["x"], "categorical": []}
    sch = schema.Schema.from_dict(old)
    assert sch.kind == "binary" and sch.labels == ("no", "yes")
    assert target.class_counts(sch, pd.Series(["yes", "no", "yes"])) == {"no": 1, "yes": 2}
