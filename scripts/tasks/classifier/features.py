"""Splitting and the preprocessing that travels with the model.

The preprocessor is fitted on the training split only and saved inside the model
artifact, so serving applies exactly what training saw: no training/serving skew.
Numbers are imputed (median, plus a missing-indicator where training saw gaps) but not
scaled: tree splits are invariant to monotone transforms, so scaling would only cost time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from common.errors import DataError

from . import target
from .encoders import DateFeatures, FrequencyEncoder, TextScore
from .schema import Schema

# Rare categories beyond this many are grouped into one code, bounding the model's width.
MAX_CATEGORIES = 250
# Unseen and missing categories share one code below every known one, so serving never fails on them.
UNKNOWN_CODE = -1


def repeated_rows(rows: pd.DataFrame, shards: int) -> pd.Series:
    """Rows equal to an earlier row: those several clean instances each kept once. One instance's rows
    have none (clean dropped every exact duplicate), so they are not compared."""
    if shards <= 1:
        return pd.Series(False, index=rows.index)
    return rows.duplicated()


def split(
    df: pd.DataFrame, schema: Schema, validation_fraction: float, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Seeded, stratified train/validation/test split.

    The rows train_test_split(df) then train_test_split(rest) give: the split depends only on the row
    count, the strata and the seed, so it is drawn on row positions, and each part takes its rows once.
    """
    df = df.reset_index(drop=True)
    labels = target.strata(schema, df[schema.target])  # None (regression): no stratification; rare classes fail
    holdout = validation_fraction + test_fraction
    positions = np.arange(len(df))
    try:
        train, rest = train_test_split(positions, test_size=holdout, stratify=labels, random_state=seed)
        validation, test = train_test_split(
            rest, test_size=test_fraction / holdout, stratify=None if labels is None else labels.to_numpy()[rest],
            random_state=seed,
        )
    except ValueError as exc:  # too few rows of a class for a stratified split of these sizes
        minority = len(df) if labels is None else int(labels.value_counts().min())
        raise DataError(
            f"column '{schema.target}': cannot split {len(df)} rows ({minority} of the rarer class) into "
            f"stratified train/validation/test of {1 - holdout:.2f}/{validation_fraction:.2f}/{test_fraction:.2f}: {exc}"
        ) from None
    return tuple(df.take(part).reset_index(drop=True) for part in (train, validation, test))  # type: ignore[return-value]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories compare as text, so 3 and "3" are one category in training and serving.

    Every kind of missing (None, NaN, pandas' NA of string columns read from Parquet) stays
    missing, so training and serving both encode it as UNKNOWN_CODE.
    """
    values = frame.astype(object).to_numpy(copy=True)
    missing = pd.isna(values)
    values[~missing] = values[~missing].astype(str)
    values[missing] = np.nan
    # an object frame: pandas 3 would infer its own string dtype, which the encoder cannot sort with NaN
    return pd.DataFrame(values, index=frame.index, columns=frame.columns, dtype=object)


def build_preprocessor(schema: Schema) -> ColumnTransformer:
    """num and cat first (serving's fast path computes them itself), then one transformer per further role."""
    numeric = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    categorical = Pipeline(
        [
            ("text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
            (
                "encode",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=UNKNOWN_CODE,
                    encoded_missing_value=UNKNOWN_CODE,
                    max_categories=MAX_CATEGORIES,
                ),
            ),
        ]
    )
    extra = [(f"text_{i}", TextScore(), [column]) for i, column in enumerate(schema.columns("text"))]
    if schema.columns("datetime"):
        extra.append(("date", DateFeatures(), list(schema.columns("datetime"))))
    if schema.columns("high_cardinality"):
        extra.append(("frequency", FrequencyEncoder(), list(schema.columns("high_cardinality"))))
    return ColumnTransformer(
        [("num", numeric, list(schema.numeric)), ("cat", categorical, list(schema.columns("categorical"))), *extra],
        remainder="drop",
        verbose_feature_names_out=True,
    )


def fit_preprocessor(train: pd.DataFrame, schema: Schema) -> ColumnTransformer:
    """The preprocessor fitted on `train`.

    The category encoder counts every value in Python (for its rare-category grouping), which on
    millions of rows was most of feature.py's time. While every categorical column has fewer
    distinct values than MAX_CATEGORIES no category is grouped, and the counts change nothing:
    then the whole preprocessor is fitted on a few rows holding every distinct category (and a
    missing number where a column has one), and the numeric imputer is refitted on every row.
    The numeric imputer too is then fitted on a few rows: each column's median over every row (what
    it would compute) and a gap where the column has one. The fitted preprocessor is the same as one
    fitted on all rows (tests compare their bytes).
    """
    frame = train[list(schema.features)]
    if set(schema.columns("categorical")) != set(schema.categorical):  # text, dates, frequencies: fitted on every row
        return build_preprocessor(schema).fit(frame, schema.encode_target(train[schema.target]).to_numpy())
    few = _every_category_once(frame, schema)
    if few is None:
        return build_preprocessor(schema).fit(frame)
    preprocessor = build_preprocessor(schema).fit(few)
    if schema.numeric:  # in place: the fitted object the column transformer holds
        preprocessor.named_transformers_["num"].fit(_medians_and_gaps(frame[list(schema.numeric)]))
    return preprocessor


def _medians_and_gaps(numbers: pd.DataFrame) -> pd.DataFrame:
    """Two rows whose median-imputer fit is the fit on `numbers`: each column's median (NaN when it has no value),
    then NaN where the column has a gap. SimpleImputer takes the median of the present values as float64;
    so does np.median, whose mean of the two middle values is the same sum halved."""
    medians, gaps = {}, {}
    for column in numbers.columns:
        values = numbers[column].to_numpy(dtype="float64", na_value=np.nan)
        present = values[~np.isnan(values)]
        medians[column] = float(np.median(present)) if len(present) else np.nan
        gaps[column] = np.nan if len(present) < len(values) else medians[column]
    return pd.DataFrame([medians, gaps], columns=numbers.columns, dtype="float64")


def _every_category_once(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame | None:
    """A few rows of `frame` with each categorical column's every distinct value (missing too) and each
    numeric column's first value and first gap; None when a column has too many categories for that."""
    positions: dict[str, np.ndarray] = {}
    for column in schema.categorical:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        if len(uniques) + 1 >= MAX_CATEGORIES:  # +1: sklearn counts the rare-category slot too
            return None
        # factorize numbers the values in order of first appearance: each first appearance is a new running maximum
        running = np.maximum.accumulate(codes)
        positions[column] = np.flatnonzero(np.r_[True, running[1:] > running[:-1]]) if len(codes) else codes
    for column in schema.numeric:
        missing = frame[column].isna().to_numpy()
        positions[column] = np.unique(np.r_[0, np.flatnonzero(missing)[:1]])
    rows = max(len(p) for p in positions.values()) if positions else 1
    return pd.DataFrame(
        {c: frame[c].iloc[np.resize(positions[c], rows)].reset_index(drop=True) for c in frame.columns},
    )



# Model Monitor baselines know numeric, categorical, text and datetime (monitoring.baseline.ROLES).
_MONITORING_ROLE = {"numeric": "numeric", "categorical": "categorical", "high_cardinality": "categorical",
                    "text": "text", "datetime": "datetime"}


def monitoring_roles(schema: Schema) -> dict[str, str]:
    """Each feature's role as the drift baselines name it: text gets length and vocabulary, dates range and recency."""
    return {c: _MONITORING_ROLE[schema.role(c)] for c in schema.features}


def excluded_columns(schema: Schema) -> list[str]:
    """Columns of the data that are not features: ids (declared or inferred) and constants."""
    return [*schema.id_columns, *(c for c, r in schema.roles.items() if r == "constant" and c not in schema.id_columns)]
