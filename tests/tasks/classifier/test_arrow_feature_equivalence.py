"""feature.py's shortcuts give what the plain code gives: the split, the imputer's fit, the baseline statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from common.storage import pandas_table, read_tables, stable_joblib_bytes
from monitoring import baseline
from tasks.classifier import cleaning, features, schema
from tests.conftest import DATA


def lending():
    cleaned, _ = cleaning.clean(read_tables([DATA]), "Class")
    return cleaned, schema.infer(cleaned, "Class", "bad", ["rownames"])


def plain_split(df, sch, validation_fraction, test_fraction, seed):
    """features.split as it was: train_test_split of the frame, then of the rest."""
    from tasks.classifier import target

    labels = target.strata(sch, df[sch.target])
    holdout = validation_fraction + test_fraction
    train, rest = train_test_split(df, test_size=holdout, stratify=labels, random_state=seed)
    validation, test = train_test_split(rest, test_size=test_fraction / holdout, stratify=labels.loc[rest.index],
                                        random_state=seed)
    return [part.reset_index(drop=True) for part in (train, validation, test)]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_split_drawn_on_positions_is_the_split_of_the_frame(seed):
    cleaned, sch = lending()
    for new, old in zip(features.split(cleaned, sch, 0.15, 0.15, seed), plain_split(cleaned, sch, 0.15, 0.15, seed)):
        pd.testing.assert_frame_equal(new, old)
        assert new.attrs == old.attrs
        assert pandas_table(new).equals(pandas_table(old)) and pandas_table(new).schema.metadata == pandas_table(old).schema.metadata


def test_the_imputer_fitted_on_medians_and_gaps_is_the_full_fit_byte_for_byte():
    cleaned, sch = lending()
    train = features.split(cleaned, sch, 0.15, 0.15, 1)[0]
    rng = np.random.default_rng(0)
    # gaps, a column with no value, an even count of present values (a median between two of them)
    train = train.assign(revol_util=train["revol_util"].mask(rng.random(len(train)) < 0.1),
                         all_util=np.nan, funded_amnt=train["funded_amnt"].mask(train.index == 0))
    full = features.build_preprocessor(sch).fit(train[list(sch.features)])
    fitted = features.fit_preprocessor(train, sch)
    assert stable_joblib_bytes(fitted) == stable_joblib_bytes(full)


def test_one_clean_instance_has_no_repeated_rows_to_look_for():
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    assert features.repeated_rows(frame, 1).tolist() == [False, False, False]
    assert features.repeated_rows(frame, 2).tolist() == [False, True, False]


def test_quantiles_and_histograms_from_one_sort_are_numpys():
    rng = np.random.default_rng(1)
    points = np.linspace(0, 1, baseline.QUANTILE_POINTS)
    for trial in range(400):
        n = int(rng.integers(1, 5000))
        values = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 6))
        values = [values, np.round(values, 1), rng.integers(0, 7, n).astype(float), np.full(n, 2.5)][trial % 4]
        ordered = np.sort(values)
        assert np.array_equal(baseline.inverted_cdf_quantiles(ordered, points),
                              np.quantile(values, points, method="inverted_cdf"))
        low, high = ordered[0], ordered[-1]
        bounds = (low, high) if high > low else (low, low + 1)
        counts, edges = baseline.sorted_histogram(ordered, bounds)
        expected_counts, expected_edges = np.histogram(values, bins=baseline.HISTOGRAM_BUCKETS, range=bounds)
        assert np.array_equal(counts, expected_counts) and np.array_equal(edges, expected_edges)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"y": ["a", "b", None, "a"], "f": [1.5, np.nan, -0.0, 0.0], "i": [1, -2, 3, 10**15],
                  "b": [True, False, True, True], "s": ["x", None, " z ", "é"], "g": [1e16, 1e-05, 0.1, np.inf]}),
    pd.DataFrame({"y": ["a", "b"], "s": ["has, comma", 'a "quote"']}),  # quoted by the csv module: pandas writes it
    pd.DataFrame({"y": pd.array(["a", None], dtype="str"), "n": [np.nan, np.nan]}),
])
def test_the_batch_file_has_to_csvs_bytes(frame, tmp_path):
    from tasks.classifier import channels

    sch = schema.Schema("y", "a", "b", (), tuple(c for c in frame.columns if c != "y"), order=tuple(frame.columns[1:]))
    channels.write_batch(tmp_path, "test.csv", frame, sch)
    expected = frame.to_csv(index=False, header=False, lineterminator="\n").encode()
    assert (tmp_path / "test.csv").read_bytes() == expected


def test_the_lending_test_split_batch_file_has_to_csvs_bytes(tmp_path):
    from tasks.classifier import channels

    cleaned, sch = lending()
    test = features.split(cleaned, sch, 0.15, 0.15, 0)[2]
    channels.write_batch(tmp_path, "test.csv", test, sch)
    expected = test[[sch.target, *sch.features]].to_csv(index=False, header=False, lineterminator="\n").encode()
    assert (tmp_path / "test.csv").read_bytes() == expected
