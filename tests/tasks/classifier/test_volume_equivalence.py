"""The shortcuts that make clean and feature fast on millions of rows give what the plain code gives."""

import numpy as np
import pandas as pd

from common.storage import read_tables, stable_joblib_bytes
from tasks.classifier import cleaning, features, schema
from tests.conftest import DATA


def lending_train():
    cleaned, _ = cleaning.clean(read_tables([DATA]), "Class")
    inferred = schema.infer(cleaned, "Class", "bad", ["rownames"])
    return features.split(cleaned, inferred, 0.15, 0.15, 3)[0], inferred


def test_preprocessor_fitted_on_a_few_rows_is_byte_for_byte_the_full_fit():
    train, inferred = lending_train()
    gaps = train.index % 7 == 0
    train = train.assign(term=train["term"].mask(gaps), revol_util=train["revol_util"].mask(gaps))
    full = features.build_preprocessor(inferred).fit(train[list(inferred.features)])
    assert stable_joblib_bytes(features.fit_preprocessor(train, inferred)) == stable_joblib_bytes(full)


def test_many_categories_fall_back_to_the_full_fit_and_group_rare_ones():
    train, inferred = lending_train()
    train = train.assign(addr_state=[f"s{i % (features.MAX_CATEGORIES + 20)}" for i in range(len(train))])
    fitted = features.fit_preprocessor(train, inferred)
    full = features.build_preprocessor(inferred).fit(train[list(inferred.features)])
    assert stable_joblib_bytes(fitted) == stable_joblib_bytes(full)
    encoder = fitted.named_transformers_["cat"].named_steps["encode"]
    assert encoder.infrequent_categories_[inferred.categorical.index("addr_state")] is not None


def test_numbers_parsed_once_per_distinct_text_match_to_numeric():
    values = pd.Series([" 1", "2.5", None, "x", "2.5", "1e3", "nan", "x", "-0", None], dtype="string").str.strip()
    parsed, bad = cleaning._parse_numbers(values)
    expected = pd.to_numeric(values, errors="coerce").astype("float64")
    np.testing.assert_array_equal(parsed.to_numpy(), expected.to_numpy())
    assert bad.tolist() == (values.notna() & expected.isna()).tolist()


def test_stray_values_and_drops_are_counted_as_before():
    rows = 2000
    frame = pd.DataFrame({
        "id": range(rows),
        "amount": [str(i % 97) if i % 100 else "oops" for i in range(rows)],  # 1% strays: numeric, counted
        "grade": [f"g{i % 5}" for i in range(rows)],
        "y": [None if i % 250 == 0 else ("a" if i % 3 else "b") for i in range(rows)],
    })
    frame = pd.concat([frame, frame.iloc[:30]], ignore_index=True)  # exact duplicates
    cleaned, report = cleaning.clean(frame, "y")
    assert report["stray_values"]["amount"]["count"] == 21 and report["stray_values"]["amount"]["examples"] == ["oops"]
    assert report["dropped"] == {"missing_target": 9, "duplicate": 29}
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values()) == rows + 30
    assert cleaned["amount"].dtype == "float64"
