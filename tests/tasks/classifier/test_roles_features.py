"""The encoders of text, dates and high-cardinality categories, and the preprocessor that holds them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bench.text_data import generate
from tasks.classifier import cleaning, features, modeling, roles, schema
from tasks.classifier.encoders import DATE_PARTS, DateFeatures, FrequencyEncoder, TextScore
from tasks.classifier.training import TrainParams


def _prepared(frame: pd.DataFrame):
    cleaned, _ = cleaning.clean(frame, "returned")
    sch = schema.infer(cleaned, "returned", "yes", roles=roles.infer(cleaned, "returned").roles)
    return sch, features.split(cleaned, sch, 0.15, 0.15, 42)


def test_dates_give_calendar_parts_and_age_before_the_stored_reference():
    train = pd.DataFrame({"created": ["2024-01-10", "2024-03-01", None, "2023-12-31"]})
    encoder = DateFeatures().fit(train)
    assert encoder.reference_ == ["2024-03-01T00:00:00"]  # the newest training date, never the serving clock
    out = encoder.transform(pd.DataFrame({"created": ["2024-03-11", "not a date", "2024-02-29T06:30:00"]}))
    parts = dict(zip(DATE_PARTS, out[0]))
    assert (parts["year"], parts["month"], parts["day"], parts["day_of_week"]) == (2024, 3, 11, 0)
    assert parts["age_days"] == -10 and parts["missing"] == 0  # after the reference: a negative age
    assert out[1, DATE_PARTS.index("missing")] == 1 and not np.isnan(out[1]).any()  # unreadable: imputed, flagged
    assert out[2, DATE_PARTS.index("hour")] == 6 and out[2, DATE_PARTS.index("age_days")] == pytest.approx(1 - 6.5 / 24)
    assert list(encoder.get_feature_names_out()) == [f"created_{p}" for p in DATE_PARTS]
    far = encoder.transform(pd.DataFrame({"created": ["0001-01-01", "2999-01-01"]}))  # beyond datetime64[ns]
    assert far[:, DATE_PARTS.index("missing")].tolist() == [1, 1] and np.isfinite(far).all()


def test_frequency_encoding_gives_unseen_values_zero_and_missing_its_share():
    train = pd.DataFrame({"store": ["a", "a", "b", None]})
    encoder = FrequencyEncoder().fit(train)
    out = encoder.transform(pd.DataFrame({"store": ["a", "b", "zzz", None]}))[:, 0]
    assert out.tolist() == [0.5, 0.25, 0.0, 0.25]


def test_text_scores_are_out_of_fold_for_training_rows_and_fitted_for_others():
    frame = generate(rows=800, seed=5, text_only=True)
    y = (frame["returned"] == "yes").astype(int).to_numpy()
    encoder = TextScore().fit(frame[["review"]], y)
    training = encoder.transform(frame[["review"]])
    assert np.array_equal(training, encoder.training_scores_) and encoder.C_ in TextScore.C_GRID
    refitted = encoder._score(encoder.model_, encoder.vectorizer_.transform(frame["review"].tolist()))
    assert not np.allclose(training, refitted)  # the full model has seen these rows; their scores are not used
    assert roc_auc_score(y, refitted[:, 0]) > roc_auc_score(y, training[:, 0])  # in-sample looks better than it is
    part = encoder.transform(frame[["review"]].head(5))
    assert np.allclose(part, refitted[:5])


def test_text_scores_one_column_per_class_for_several_classes():
    frame = generate(rows=600, seed=2, text_only=True)
    y = np.where(frame["returned"] == "yes", "returned", np.where(np.arange(600) % 2, "kept", "exchanged"))
    encoder = TextScore().fit(frame[["review"]], y)
    assert encoder.transform(frame[["review"]].head(3)).shape == (3, 3)


def test_a_schema_without_further_roles_keeps_the_two_part_preprocessor():
    sch, (train, _, _) = _prepared(generate(rows=600, seed=1)[["product", "price", "returned"]])
    preprocessor = features.fit_preprocessor(train, sch)
    assert [name for name, _, _ in preprocessor.transformers] == ["num", "cat"]


def test_text_file_auc_is_within_002_of_tfidf_logistic_regression_on_the_same_split():
    sch, (train, validation, test) = _prepared(generate(rows=4000, seed=11, text_only=True))
    assert sch.columns("text") == ("review",) and sch.id_columns == ("review_id",)
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams())
    truth = test["returned"] == "yes"
    auc = roc_auc_score(truth, fitted.pipeline.predict_proba(test[list(sch.features)])[:, 1])
    vectorizer = TfidfVectorizer()
    reference = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train["review"]), train["returned"] == "yes")
    reference_auc = roc_auc_score(truth, reference.decision_function(vectorizer.transform(test["review"])))
    assert 0.85 <= reference_auc <= 0.95  # the generated text is informative, not a giveaway
    assert auc >= reference_auc - 0.02


def test_dates_and_frequencies_reach_the_model_inside_the_pipeline():
    sch, (train, validation, test) = _prepared(generate(rows=1500, seed=4))
    preprocessor = features.fit_preprocessor(train, sch)
    names = [name for name, _, _ in preprocessor.transformers]
    assert names == ["num", "cat", "text_0", "date", "frequency"]
    out = preprocessor.transform(test[list(sch.features)])
    assert out.shape[1] == len(preprocessor.get_feature_names_out()) and np.isfinite(out).all()
    assert features.monitoring_roles(sch) == {"created": "datetime", "product": "categorical", "store": "categorical",
                                              "price": "numeric", "review": "text"}
    assert features.excluded_columns(sch) == ["review_id", "order_no", "currency"]
