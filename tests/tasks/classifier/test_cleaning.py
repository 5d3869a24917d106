import numpy as np
import pandas as pd
import pytest

from tasks.classifier import cleaning, schema
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
    cleaned, _ = cleaning.clean(frame.iloc[:2], "y", categorical={"code"})
    assert cleaned["code"].tolist() == ["1", "2"]


def test_declared_categorical_numbers_read_as_a_client_sends_them():
    frame = pd.DataFrame({"zip": [1001.0, None, 2002.0], "ratio": [0.5, 1.0, None], "y": ["a", "b", "a"]})
    cleaned, _ = cleaning.clean(frame, "y", categorical={"zip", "ratio"})
    assert cleaned["zip"].tolist() == ["1001", None, "2002"]  # not "1001.0", which serving never sees
    assert cleaned["ratio"].tolist() == ["0.5", "1.0", None]


def test_declared_numeric_columns_are_coerced_or_the_bad_value_is_named():
    frame = pd.DataFrame({"n": ["1", " 2 ", "", "x3"], "y": ["a", "b", "a", "b"]})
    with pytest.raises(DataError, match=r"column 'n' row 4: 'x3' is not a number \(the column was declared numeric\)"):
        cleaning.clean(frame, "y", numeric={"n"})
    cleaned, _ = cleaning.clean(frame.iloc[:3], "y", numeric={"n"})
    assert cleaned["n"].tolist()[:2] == [1.0, 2.0] and cleaned["n"].isna().tolist()[2]


def test_booleans_are_categories_so_serving_can_send_true_and_false():
    frame = pd.DataFrame({"flag": [True, False, True], "x": [1, 2, 3], "y": ["a", "b", "a"]})
    cleaned, _ = cleaning.clean(frame, "y")
    inferred = schema.infer(cleaned, "y", "a")
    assert inferred.categorical == ("flag",) and inferred.numeric == ("x",)


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
    with pytest.raises(DataError, match="target column 'y' has 1 class\\(es\\) \\['a'\\]: a classifier needs two or more"):
        schema.infer(frame, "y", "a")


def test_unknown_label_in_later_data_names_the_row():
    sch = schema.Schema("y", "yes", "no", ("x",), ())
    with pytest.raises(DataError, match="column 'y' row 1: label 'maybe' is not one of the trained classes"):
        sch.encode_target(pd.Series(["yes", "maybe"]))
