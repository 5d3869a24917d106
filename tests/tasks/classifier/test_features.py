import numpy as np
import pandas as pd
import pytest

from tasks.classifier import features
from tasks.classifier.features import UNKNOWN_CODE


def test_split_is_stratified_disjoint_complete_and_seeded(lending_split, lending_club):
    sch, train, validation, test = lending_split
    assert len(train) + len(validation) + len(test) == len(lending_club)
    ids = [set(part["rownames"]) for part in (train, validation, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    rates = [sch.encode_target(part["Class"]).mean() for part in (train, validation, test)]
    assert max(rates) - min(rates) < 0.005
    again = features.split(pd.concat([train, validation, test]).sort_values("rownames"), sch, 0.15, 0.15, seed=42)
    other = features.split(pd.concat([train, validation, test]).sort_values("rownames"), sch, 0.15, 0.15, seed=7)
    assert list(again[0]["rownames"]) == list(train["rownames"])  # same rows, same seed: same split
    assert list(other[0]["rownames"]) != list(train["rownames"])


def test_preprocessor_survives_unseen_categories_and_missing_values(lending_split):
    sch, train, _, test = lending_split
    pre = features.fit_preprocessor(train, sch)
    rows = test.head(2).copy()
    rows.loc[rows.index[0], "addr_state"] = "ZZ-never-seen"
    rows.loc[rows.index[1], "sub_grade"] = None
    rows.loc[rows.index[1], "int_rate"] = np.nan
    out = pd.DataFrame(pre.transform(rows[list(sch.features)]), columns=pre.get_feature_names_out())
    assert out["cat__addr_state"].iloc[0] == UNKNOWN_CODE
    assert out["cat__sub_grade"].iloc[1] == UNKNOWN_CODE
    assert out["num__int_rate"].iloc[1] == train["int_rate"].median()


def test_missing_categories_after_a_parquet_round_trip_stay_missing(lending_split, tmp_path):
    """Parquet gives back string columns with pandas' NA: that is missing, not a category "nan"."""
    sch, train, _, test = lending_split
    train = train.copy()
    train.loc[train.index[:50], "emp_length"] = None
    train.to_parquet(tmp_path / "train.parquet")
    from_parquet = pd.read_parquet(tmp_path / "train.parquet")
    pre = features.fit_preprocessor(from_parquet, sch)
    categories = pre.named_transformers_["cat"].named_steps["encode"].categories_
    emp_length = list(categories[list(sch.categorical).index("emp_length")])
    assert "nan" not in emp_length and "<NA>" not in emp_length
    rows = test.head(1).copy()
    rows["emp_length"] = None
    out = pd.DataFrame(pre.transform(rows[list(sch.features)]), columns=pre.get_feature_names_out())
    assert out["cat__emp_length"].iloc[0] == UNKNOWN_CODE


def test_too_few_rows_for_a_stratified_split_is_a_data_error(lending_split):
    from contract import DataError

    sch, train, _, _ = lending_split
    tiny = pd.concat([train[train["Class"] == "bad"].head(3), train[train["Class"] == "good"].head(37)])
    with pytest.raises(DataError, match="column 'Class': cannot split 40 rows \\(3 of the rarer class\\)"):
        features.split(tiny, sch, 0.15, 0.15, seed=1)


def test_preprocessor_is_fitted_on_train_only(lending_split):
    sch, train, _, test = lending_split
    pre = features.fit_preprocessor(train, sch)
    imputer = pre.named_transformers_["num"]
    column = list(sch.numeric).index("revol_util")
    assert imputer.statistics_[column] == train["revol_util"].median()
    categories = pre.named_transformers_["cat"].named_steps["encode"].categories_
    seen = set(categories[list(sch.categorical).index("addr_state")])
    assert seen <= set(train["addr_state"].dropna())
