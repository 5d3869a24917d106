"""Batch -> the model's scores, without the per-call cost of the sklearn pipeline.

Scores as the artifact's kind defines them (tasks.classifier.target): P(positive) for a binary model,
one row of class probabilities for a multi-class one, the predicted number for a regression.

The artifact's Pipeline(ColumnTransformer, GradientBoostingClassifier) takes about 9 ms per
call on a DataFrame of one row, 30 times the 0.3 ms of the trees themselves: pandas
indexing and input validation in every step. FastScorer reads the fitted preprocessing
(imputer medians, missing indicators, category codes) once and applies it with numpy,
then calls the fitted estimator. It is used only after it reproduced the pipeline's own
output on the artifact's sample rows and on variants with missing values and unseen
categories; any other pipeline shape, or any mismatch, falls back to PipelineScorer.
Columns with other roles (text, dates, frequency-encoded categories) go through their fitted
encoder's own transform, on those columns only; the numbers and small categories stay in numpy.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from tasks.classifier import features as training_features
from tasks.classifier.target import kind_of

from .decode import Batch, Decoder

log = logging.getLogger("serving")
UNSEEN = "\x00unseen category\x00"


class PipelineScorer:
    """The reference: the batch as the rows the artifact's pipeline reads, through that pipeline."""

    name = "pipeline"

    def __init__(self, model):
        self.model = model
        self.kind = kind_of(model.schema)
        self.decoder = Decoder(model.schema)

    def predict(self, batch: Batch) -> np.ndarray:
        # Decoder.frame is what Model.prepare returns for these rows (tests/serving/test_handler.py): the
        # pipeline is called directly, as prepare would copy and check every column again
        return self.kind.scores(self.model.pipeline, self.decoder.frame(batch))

    predict_proba = predict  # a binary model's scores are P(positive)


class _Codes:
    """One categorical column's text -> code table, read from the fitted encoder itself."""

    def __init__(self, known: list[str], codes: np.ndarray, unknown: float, missing: float):
        self.table = dict(zip(known, codes.tolist()))
        self.unknown, self.missing = unknown, missing

    def encode(self, values) -> np.ndarray:
        get, unknown, missing = self.table.get, self.unknown, self.missing
        if isinstance(values, pa.Array):  # dictionary-encoded: look up each distinct value once
            if not isinstance(values, pa.DictionaryArray):
                values = pc.dictionary_encode(values)
            lookup = [missing if v is None else get(v, unknown) for v in values.dictionary.to_pylist()]
            index = values.indices.fill_null(-1).to_numpy(zero_copy_only=False)  # null index -> missing
            return np.array(lookup + [missing], dtype=np.float64)[index]
        return np.array([missing if v is None else get(v, unknown) for v in values], dtype=np.float64)


class FastScorer:
    name = "fast"

    def __init__(self, model):
        schema = model.schema
        pipeline = model.pipeline
        if not (isinstance(pipeline, Pipeline) and len(pipeline.steps) == 2):
            raise TypeError("not a two-step Pipeline")
        transformer, self.estimator = pipeline.steps[0][1], pipeline.steps[1][1]
        self.kind = kind_of(schema)
        if not isinstance(transformer, ColumnTransformer):
            raise TypeError("first step is not a ColumnTransformer")
        parts = {name: (step, list(cols)) for name, step, cols in transformer.transformers_
                 if not (isinstance(step, str) and step == "drop")}
        base = [name for name in parts if name in ("num", "cat")]
        if list(parts)[: len(base)] != base or base not in (["num", "cat"], ["num"], ["cat"], []) \
                or any(isinstance(s, str) for s, _ in parts.values()):
            raise TypeError(f"unexpected transformers {list(parts)}")
        # a side with no columns (a numeric-only or categorical-only schema) is left unfitted by sklearn
        # and adds no features: it gets an empty plan
        (imputer, num_cols), (cat_pipe, cat_cols) = parts.get("num", (None, [])), parts.get("cat", (None, []))
        if num_cols != list(schema.numeric) or cat_cols != list(schema.columns("categorical")):
            raise TypeError("transformer columns differ from the schema")
        self._extra_plan(schema, [parts[name] for name in list(parts)[len(base):]])
        self._cat_index = [list(schema.categorical).index(c) for c in cat_cols]
        if num_cols:
            self._numeric_plan(imputer)
        else:
            self.statistics, self.indicators = np.empty(0), np.empty(0, dtype=np.intp)
        if cat_cols:
            self._category_plan(cat_pipe)
        else:
            self.codes = []
        self.width = width = self.statistics.size + self.indicators.size + len(self.codes) + sum(w for _, _, w in self.extras)
        if width != getattr(self.estimator, "n_features_in_", width):
            raise TypeError(f"{width} preprocessed features, the estimator expects {self.estimator.n_features_in_}")

    def _extra_plan(self, schema, extras: list) -> None:
        """Text, date and frequency encoders: applied by their own transform to their columns only."""
        self.extras = []
        for step, columns in extras:
            unknown = [c for c in columns if c not in schema.categorical]
            if unknown:
                raise TypeError(f"encoder columns {unknown} are not served as text")
            width = len(step.get_feature_names_out())
            self.extras.append((step, [(c, list(schema.categorical).index(c)) for c in columns], width))

    def _numeric_plan(self, imputer) -> None:
        if not (isinstance(imputer, SimpleImputer) and isinstance(imputer.missing_values, float)
                and np.isnan(imputer.missing_values)):
            raise TypeError("numeric step is not a SimpleImputer of NaN")
        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        if np.isnan(statistics).any():
            if not imputer.keep_empty_features:
                raise TypeError("imputer drops empty features")
            statistics = np.nan_to_num(statistics, nan=0.0)  # sklearn fills kept empty features with 0
        self.statistics = statistics
        indicator = imputer.indicator_
        self.indicators = np.asarray(indicator.features_ if indicator is not None else [], dtype=np.intp)

    def _category_plan(self, cat_pipe) -> None:
        steps = [step for _, step in cat_pipe.steps] if isinstance(cat_pipe, Pipeline) else []
        if not (len(steps) == 2 and isinstance(steps[0], FunctionTransformer)
                and steps[0].func is training_features._as_text and not steps[0].kw_args
                and isinstance(steps[1], OrdinalEncoder) and steps[1].handle_unknown == "use_encoded_value"):
            raise TypeError("categorical step is not _as_text + OrdinalEncoder(use_encoded_value)")
        encoder = steps[1]
        known = []
        for categories in encoder.categories_:
            values = [c for c in categories if not (isinstance(c, float) and np.isnan(c))]
            if not values or not all(isinstance(c, str) for c in values):
                raise TypeError("encoder categories are not text")
            known.append(values)
        self.codes = []
        for j, values in enumerate(known):  # ask the encoder for each known category's code (rare ones grouped)
            probe = {name: [known[k][0]] * len(values) for k, name in enumerate(encoder.feature_names_in_)}
            probe[encoder.feature_names_in_[j]] = values
            codes = encoder.transform(pd.DataFrame(probe, dtype=object))[:, j].astype(np.float64)
            self.codes.append(_Codes(values, codes, float(encoder.unknown_value), float(encoder.encoded_missing_value)))

    def predict(self, batch: Batch) -> np.ndarray:
        numeric = batch.numeric
        missing = np.isnan(numeric)
        imputed = np.where(missing, self.statistics, numeric)
        X = np.empty((batch.rows, self.width))
        X[:, : self.statistics.size] = imputed
        start = self.statistics.size + self.indicators.size
        X[:, self.statistics.size : start] = missing[:, self.indicators]
        for j, (codes, index) in enumerate(zip(self.codes, self._cat_index)):
            X[:, start + j] = codes.encode(batch.categorical[index])
        start += len(self.codes)
        for step, columns, width in self.extras:
            frame = pd.DataFrame({name: _as_list(batch.categorical[index]) for name, index in columns}, dtype=object)
            X[:, start : start + width] = step.transform(frame)
            start += width
        return self.kind.scores(self.estimator, X)

    predict_proba = predict


def _as_list(values) -> list:
    return values.to_pylist() if isinstance(values, pa.Array) else list(values)


def verification_records(model) -> list[dict]:
    """The artifact's sample rows, and each with all values missing and with unseen categories."""
    rows = model.metadata["sample_rows"]
    numeric, categorical = model.schema.numeric, model.schema.categorical
    blank = [{name: None for name in row} for row in rows]
    unseen = [{**row, **{c: UNSEEN for c in categorical}} for row in rows]
    mixed = [{**row, **{c: None for c in numeric[::2]}, **{c: UNSEEN for c in categorical[1::2]}} for row in rows]
    return rows + blank + unseen + mixed


def compile_scorer(model) -> FastScorer | PipelineScorer:
    """FastScorer when it reproduces the pipeline on the verification rows, else PipelineScorer."""
    reference = PipelineScorer(model)
    try:
        fast = FastScorer(model)
    except (TypeError, AttributeError, ValueError) as exc:
        log.warning("serving through the sklearn pipeline (slower): %s", exc)
        return reference
    batch = Decoder(model.schema).decode("json", json.dumps(verification_records(model)).encode())
    expected, actual = reference.predict(batch), fast.predict(batch)
    if not np.allclose(actual, expected, rtol=0, atol=1e-12):
        log.warning("serving through the sklearn pipeline (slower): fast path differs by %.3g",
                    float(np.max(np.abs(actual - expected))))
        return reference
    return fast
