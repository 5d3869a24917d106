"""Hardening (issue 11, items 1-4): stray text in numeric columns, ragged rows, duplicate names, shard order."""

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from common.storage import read_table, read_tables
from tasks.classifier import cleaning, schema
from tests.conftest import REPO

PENGUINS = REPO / "tests" / "data" / "penguins.csv"
STRAYS = {20: "heavy", 50: "4,5 kg", 120: "?kg"}  # three bad values in body_mass_g, as in the issue


def penguins_with_strays() -> pd.DataFrame:
    frame = pd.read_csv(PENGUINS, dtype={"body_mass_g": object})
    for row, value in STRAYS.items():
        frame.loc[row, "body_mass_g"] = value
    return frame


def test_a_mostly_numeric_column_stays_numeric_and_its_strays_are_counted():
    cleaned, report = cleaning.clean(penguins_with_strays(), "sex")
    inferred = schema.infer(cleaned, "sex", "female")
    assert "body_mass_g" in inferred.numeric, "body_mass_g became categorical because of 3 stray values"
    assert cleaned["body_mass_g"].dtype == "float64"
    strays = report["stray_values"]["body_mass_g"]
    assert strays["count"] == 3 and sorted(strays["examples"]) == sorted(STRAYS.values())
    assert report["missing_by_column"]["body_mass_g"] == 3  # the strays (the NA rows have no target either)


def test_many_strays_in_a_mostly_numeric_column_fail_naming_column_and_examples():
    frame = pd.DataFrame({"x": [str(i) for i in range(95)] + ["bad"] * 5, "y": ["a", "b"] * 50})
    with pytest.raises(DataError, match=r"column 'x': 5 of 100 values \(5.0%\) are not numbers.*'bad'"):
        cleaning.clean(frame, "y")
    cleaned, _ = cleaning.clean(frame, "y", categorical={"x"})  # the override still decides
    assert cleaned["x"].tolist()[-1] == "bad"


def test_a_column_that_is_not_mostly_numbers_stays_categorical():
    frame = pd.DataFrame({"code": ["1", "2", "x"] * 10, "y": ["a", "b", "a"] * 10})
    cleaned, report = cleaning.clean(frame, "y")
    assert cleaned["code"].dtype == object and report["stray_values"] == {}


def write(path, text):
    path.write_text(text)
    return path


def test_rows_with_too_few_fields_are_refused_like_rows_with_too_many(tmp_path):
    short = write(tmp_path / "short.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(DataError, match=r"short.csv line 3: 2 fields, expected 3"):
        read_table(short)
    long = write(tmp_path / "long.csv", "a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataError, match=r"long.csv line 3: 4 fields, expected 3"):
        read_table(long)


def test_ragged_rows_can_be_dropped_and_are_counted_by_reason(tmp_path):
    path = write(tmp_path / "ragged.csv", 'a,b,c\n1,2,3\n4,5\n"6\n6",7,8\n9,10,11,12\n\n13,14,15\n')
    frame = read_tables([path], bad_rows="drop")
    assert len(frame) == 3 and frame["c"].tolist() == [3, 8, 15]
    assert frame.attrs["dropped_rows"] == {"too_few_fields": 1, "too_many_fields": 1}
    raw = frame.assign(y=["p", "n", "p"])
    _, report = cleaning.clean(raw, "y")
    assert report["dropped"]["too_few_fields"] == 1 and report["dropped"]["too_many_fields"] == 1
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values())


def test_duplicate_column_names_are_refused_not_renamed(tmp_path):
    path = write(tmp_path / "dup.csv", "x,y, x,z,y\n1,2,3,4,5\n")
    with pytest.raises(DataError, match=r"dup.csv: column name\(s\) \['x', 'y'\] appear more than once"):
        read_table(path)


def test_shards_with_different_column_orders_agree_on_the_schema():
    frame = penguins_with_strays().dropna(subset=["sex"])
    first, second = frame.iloc[::2], frame.iloc[1::2][list(reversed(frame.columns))]
    schemas = []
    for shard in (first, second):
        cleaned, _ = cleaning.clean(shard, "sex")
        schemas.append(schema.infer(cleaned, "sex", "female"))
    assert schemas[0].agrees_with(schemas[1]) and schemas[1].agrees_with(schemas[0])
    changed = schema.Schema(**{**schemas[0].to_dict(), "numeric": schemas[0].numeric[1:],
                               "categorical": schemas[0].categorical + schemas[0].numeric[:1]})
    assert not changed.agrees_with(schemas[0])
