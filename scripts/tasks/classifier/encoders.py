"""Encoders for the roles beyond numbers and small categories, fitted on the training split only.

- TextScore: word and character n-gram TF-IDF into a linear model, whose score is the feature the
  trees see (stacking). The training rows get out-of-fold scores, so the trees learn how much a
  score is worth on text they did not fit; any other rows get the model fitted on every row.
- DateFeatures: calendar parts and the age in days before a reference date (the newest training
  date, stored here, so serving never reads its own clock); missing dates are imputed and flagged.
- FrequencyEncoder: a high-cardinality category -> its share of the training rows; a value unseen
  in training gets 0 (rarer than any seen), missing its own training share.

Each takes a DataFrame of its columns (as the ColumnTransformer gives them) and returns floats.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import FeatureUnion
from sklearn.utils.multiclass import type_of_target

from .roles import parse_dates

TEXT_FOLDS = 5


def _texts(X) -> list[str]:
    column = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X)[:, 0])
    return ["" if pd.isna(v) else str(v) for v in column.tolist()]


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    return digest.hexdigest()


class TextScore(TransformerMixin, BaseEstimator):
    """One text column -> the linear model's score(s): one for two classes or numbers, one per class else.

    The TF-IDF vocabulary is fitted on every training row (it never sees the target); the linear
    model's strength is chosen from C_GRID by its out-of-fold score, and those out-of-fold scores
    are what the training rows get.
    """

    C_GRID = (0.1, 0.3, 1.0, 3.0)

    def __init__(self, seed: int = 0):
        self.seed = seed

    @staticmethod
    def _vectorizer() -> FeatureUnion:
        return FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True,
                                      max_features=50_000, dtype=np.float32)),
        ])

    def _linear(self, C: float):
        if self.kind_ == "continuous":
            return Ridge(alpha=1.0 / C)
        # liblinear: two classes in a third of lbfgs's time on these sparse matrices (bench/text_bench.py)
        return LogisticRegression(C=C, max_iter=2000, solver="liblinear" if len(self.classes_) == 2 else "lbfgs")

    def _score(self, model, matrix) -> np.ndarray:
        scores = model.predict(matrix) if self.kind_ == "continuous" else model.decision_function(matrix)
        return np.asarray(scores, dtype=np.float64).reshape(matrix.shape[0], -1)

    def _quality(self, y, scores: np.ndarray) -> float:
        if self.kind_ == "continuous":
            return float(r2_score(y, scores[:, 0]))
        if scores.shape[1] == 1:
            return float(roc_auc_score(y, scores[:, 0]))
        return float(np.mean(self.classes_[scores.argmax(axis=1)] == y))

    def fit(self, X, y):
        texts = _texts(X)
        y = np.asarray(y)
        self.kind_ = "continuous" if type_of_target(y) == "continuous" else "classes"
        self.classes_ = np.unique(y)
        self.vectorizer_ = self._vectorizer().fit(texts)
        matrix = self.vectorizer_.transform(texts)
        folds = (KFold(TEXT_FOLDS, shuffle=True, random_state=self.seed) if self.kind_ == "continuous"
                 else StratifiedKFold(max(2, min(TEXT_FOLDS, int(np.unique(y, return_counts=True)[1].min()))),
                                      shuffle=True, random_state=self.seed))
        splits = list(folds.split(matrix, y))
        best = None
        for C in self.C_GRID:
            oof = None
            for fit_rows, score_rows in splits:
                scores = self._score(self._linear(C).fit(matrix[fit_rows], y[fit_rows]), matrix[score_rows])
                oof = np.empty((len(texts), scores.shape[1])) if oof is None else oof
                oof[score_rows] = scores
            quality = self._quality(y, oof)
            if best is None or quality > best[0]:
                best = (quality, C, oof)
        self.oof_quality_, self.C_, self.training_scores_ = best
        self.model_ = self._linear(self.C_).fit(matrix, y)
        self.training_fingerprint_ = _fingerprint(texts)
        self.feature_names_in_ = np.asarray(X.columns if isinstance(X, pd.DataFrame) else ["text"], dtype=object)
        self.n_features_in_ = 1
        return self

    def transform(self, X) -> np.ndarray:
        texts = _texts(X)
        if len(texts) == len(self.training_scores_) and _fingerprint(texts) == self.training_fingerprint_:
            return self.training_scores_.copy()
        return self._score(self.model_, self.vectorizer_.transform(texts))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        name = str(self.feature_names_in_[0])
        width = self.training_scores_.shape[1]
        return np.asarray([f"{name}_score"] if width == 1 else [f"{name}_score_{k}" for k in range(width)], dtype=object)


DATE_PARTS = ("year", "month", "day", "day_of_week", "hour", "age_days", "missing")


class DateFeatures(TransformerMixin, BaseEstimator):
    """Date columns -> year, month, day, day of week, hour, days before the reference date, missing flag."""

    def fit(self, X, y=None):
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        stamps = [parse_dates(frame[c]) for c in frame.columns]
        newest = [s.max() for s in stamps]
        self.reference_ = [None if pd.isna(t) else t.isoformat() for t in newest]  # ISO text: readable, pickles stably
        parts = self._parts(stamps)
        with warnings.catch_warnings():  # an all-missing part has no median: 0 then
            warnings.simplefilter("ignore", RuntimeWarning)
            self.fill_ = np.nan_to_num(np.nanmedian(parts, axis=0), nan=0.0)
        return self

    def _parts(self, stamps: list[pd.Series]) -> np.ndarray:
        columns = []
        for series, reference in zip(stamps, self.reference_):
            index = pd.DatetimeIndex(series)  # its fields are much cheaper than Series.dt's on small batches
            missing = np.asarray(index.isna())
            if reference:
                age = (np.datetime64(reference, "ns") - index.to_numpy()).astype("timedelta64[ns]").astype(np.int64) / 86400e9
            else:
                age = np.full(len(index), np.nan)
            columns += [index.year, index.month, index.day, index.day_of_week, index.hour, np.where(missing, np.nan, age),
                        missing]
        return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]) if columns else np.empty((0, 0))

    def transform(self, X) -> np.ndarray:
        frame = pd.DataFrame(X)
        frame.columns = self.feature_names_in_  # positional, as the ColumnTransformer hands them over
        parts = self._parts([parse_dates(frame[c]) for c in frame.columns])
        return np.where(np.isnan(parts), self.fill_, parts)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([f"{c}_{p}" for c in self.feature_names_in_ for p in DATE_PARTS], dtype=object)


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Categories -> their share of the training rows; unseen -> 0, missing -> the training share of missing."""

    def fit(self, X, y=None):
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.shares_, self.missing_share_ = [], []
        for column in frame.columns:
            values = _category_text(frame[column])
            shares = values.value_counts(dropna=True) / max(len(values), 1)  # shares of all rows, missing included
            self.shares_.append({str(k): float(v) for k, v in sorted(shares.items())})
            self.missing_share_.append(float(values.isna().mean()) if len(values) else 0.0)
        return self

    def transform(self, X) -> np.ndarray:
        frame = pd.DataFrame(X)
        out = np.empty((len(frame), frame.shape[1]))
        for j, (shares, missing) in enumerate(zip(self.shares_, self.missing_share_)):
            get = shares.get
            out[:, j] = [missing if pd.isna(v) else get(str(v), 0.0) for v in frame.iloc[:, j].tolist()]
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([f"{c}_frequency" for c in self.feature_names_in_], dtype=object)


def _category_text(values: pd.Series) -> pd.Series:
    """As the ordinal encoder compares categories: text, missing kept missing."""
    return values.astype(object).map(lambda v: None if pd.isna(v) else str(v))
