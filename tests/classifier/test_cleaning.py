import numpy as np
import pandas as pd
import pytest

from classifier import cleaning, schema
from contract import DataError


def raw_frame():
    return pd.DataFrame({
        "id": [1, 2, 2, 3, 4, 5],
        "amount": [" 10.5", "20", "20", "", "7", "3"],  # text that is really numeric
        "grade": ["A ", "B", "B", "C", None, "A"],
        "y": ["yes", "no", "no", "no", None, "yes"],
    })


def test_clean_trims_coerces_and_accounts_for_every_row():
    cleaned, report = cleaning.clean(raw_frame(), "y")
    assert report["rows_in"] == 6 and report["rows_out"] == 4
    assert report["dropped"] == {"missing_target": 1, "duplicate": 1}
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values())
    assert cleaned["amount"].dtype == "float64"
    assert cleaned["amount"].tolist()[:2] == [10.5, 20.0] and np.isnan(cleaned["amount"][2])
    assert cleaned["grade"].tolist() == ["A", "B", "C", "A"]
    assert report["missing_by_column"]["amount"] == 1


def test_text_with_a_real_word_stays_categorical():
    frame = pd.DataFrame({"code": ["1", "2", "x"], "y": ["a", "b", "a"]})
    cleaned, _ = cleaning.clean(frame, "y")
    assert cleaned["code"].tolist() == ["1", "2", "x"]
    cleaned, _ = cleaning.clean(frame.iloc[:2], "y", keep_as_text={"code"})
    assert cleaned["code"].tolist() == ["1", "2"]


def test_schema_inference_and_overrides():
    cleaned, _ = cleaning.clean(raw_frame(), "y")
    inferred = schema.infer(cleaned, "y", "yes", ["id"])
    assert inferred.numeric == ("amount",) and inferred.categorical == ("grade",)
    assert inferred.negative_label == "no"
    forced = schema.infer(cleaned, "y", "yes", [], categorical=["id"])
    assert forced.numeric == ("amount",) and forced.categorical == ("id", "grade")
    assert inferred.encode_target(pd.Series(["yes", "no"])).tolist() == [1, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": "label"}, "target column 'label' not found"),
        ({"target": "y", "positive_label": "maybe"}, "positive label 'maybe' not found in column 'y'"),
        ({"target": "y", "id_columns": ["nope"]}, "column 'nope' not found"),
        ({"target": "y", "id_columns": ["id", "amount", "grade"]}, "no feature columns left"),
    ],
)
def test_schema_errors_name_the_column(kwargs, message):
    cleaned, _ = cleaning.clean(raw_frame(), "y")
    args = {"positive_label": "yes", "id_columns": [], **kwargs}
    with pytest.raises(DataError, match=message):
        schema.infer(cleaned, args["target"], args["positive_label"], args["id_columns"])


def test_one_class_is_an_error():
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "a"]})
    with pytest.raises(DataError, match="target column 'y' must have exactly two classes, found 1"):
        schema.infer(frame, "y", "a")


def test_unknown_label_in_later_data_names_the_row():
    sch = schema.Schema("y", "yes", "no", ("x",), ())
    with pytest.raises(DataError, match="column 'y' row 1: label 'maybe'"):
        sch.encode_target(pd.Series(["yes", "maybe"]))
