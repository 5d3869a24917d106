"""Cleaning raw rows: trim, coerce, drop what cannot be used, and account for every row."""

from __future__ import annotations

from typing import Any

import pandas as pd

from contract.errors import DataError

from .schema import MISSING_TOKENS, Schema

_BLANKS = {token: None for token in MISSING_TOKENS}


def _trim(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            text = out[column].astype("string").str.strip()
            out[column] = text.replace(_BLANKS)
    return out


def _coerce_numeric(df: pd.DataFrame, protected: set[str]) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if column in protected or pd.api.types.is_numeric_dtype(out[column]):
            continue
        values = out[column]
        parsed = pd.to_numeric(values, errors="coerce")
        if values.notna().any() and parsed.notna().sum() == values.notna().sum():
            out[column] = parsed.astype("float64")
    return out


def clean(df: pd.DataFrame, target: str, keep_as_text: set[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Cleaned rows and a report of what happened to the others.

    Rows without a target and exact duplicates are dropped (counted by reason); text is
    trimmed; text columns whose every value is a number become numeric.
    """
    if target not in df.columns:
        raise DataError(f"target column '{target}' not found; columns are {list(df.columns)}")
    rows_in = len(df)
    trimmed = _trim(df)
    coerced = _coerce_numeric(trimmed, protected={target, *(keep_as_text or set())})
    has_target = coerced[target].notna()
    with_target = coerced[has_target]
    deduplicated = with_target.drop_duplicates()
    cleaned = deduplicated.reset_index(drop=True)
    for column in cleaned.columns:
        if not pd.api.types.is_numeric_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].astype("object").where(cleaned[column].notna(), None)
    report = {
        "rows_in": rows_in,
        "rows_out": len(cleaned),
        "dropped": {
            "missing_target": int((~has_target).sum()),
            "duplicate": int(len(with_target) - len(deduplicated)),
        },
        "missing_by_column": {c: int(cleaned[c].isna().sum()) for c in cleaned.columns},
        "dtypes": {c: str(cleaned[c].dtype) for c in cleaned.columns},
    }
    return cleaned, report


def summarize_schema(schema: Schema, df: pd.DataFrame) -> dict[str, Any]:
    counts = df[schema.target].astype(str).value_counts()
    return {
        **schema.to_dict(),
        "class_counts": {label: int(counts.get(label, 0)) for label in (schema.negative_label, schema.positive_label)},
    }
