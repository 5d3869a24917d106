"""Cleaning raw rows: trim, coerce, drop what cannot be used, and account for every row."""

from __future__ import annotations

from typing import Any

import pandas as pd

from common.errors import DataError

from .schema import MISSING_TOKENS, Schema

_BLANKS = {token: None for token in MISSING_TOKENS}


def _trim(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            text = out[column].astype("string").str.strip()
            out[column] = text.replace(_BLANKS)
    return out


# The type rule for text columns, by the share of non-missing values that are not numbers ("strays"):
# none -> numeric; up to STRAY_SHARE_TOLERATED -> numeric, strays become missing and are counted in the
# report; up to STRAY_SHARE_AMBIGUOUS -> the step fails naming the column and examples (a typo or a
# category? the caller decides with --numeric-columns/--categorical-columns); more -> categorical.
STRAY_SHARE_TOLERATED = 0.02
STRAY_SHARE_AMBIGUOUS = 0.10
STRAY_EXAMPLES = 5


def _infer_numeric(df: pd.DataFrame, skip: set[str]) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Text columns that are (mostly) numbers become numeric; returns the strays set to missing per column."""
    out = df.copy()
    strays: dict[str, dict[str, Any]] = {}
    for column in out.columns:
        if column in skip or pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column]):
            continue
        values = out[column]
        parsed = pd.to_numeric(values, errors="coerce")
        present = int(values.notna().sum())
        bad = values.notna() & parsed.isna()
        count = int(bad.sum())
        if present == 0 or count > STRAY_SHARE_AMBIGUOUS * present:
            continue
        examples = [str(v) for v in pd.unique(values[bad])[:STRAY_EXAMPLES]]
        if count > STRAY_SHARE_TOLERATED * present:
            raise DataError(
                f"column '{column}': {count} of {present} values ({count / present:.1%}) are not numbers, "
                f"e.g. {examples}: too many to ignore as typos (over {STRAY_SHARE_TOLERATED:.0%}) and too few for a "
                f"category column (under {STRAY_SHARE_AMBIGUOUS:.0%}); fix them, or pass --categorical-columns "
                f"{column} to treat the column as categories"
            )
        out[column] = parsed.astype("float64")
        if count:
            strays[column] = {"count": count, "examples": examples}
    return out, strays


def _force_numeric(values: pd.Series) -> pd.Series:
    """A column declared numeric: every value must parse; the first that does not is named."""
    parsed = pd.to_numeric(values, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        position = int(bad.to_numpy().argmax())
        raise DataError(
            f"column '{values.name}' row {position + 1}: {values.iloc[position]!r} is not a number "
            "(the column was declared numeric)"
        )
    return parsed.astype("float64")


def _category_text(values: pd.Series) -> pd.Series:
    """A column declared categorical, as the text a client would send: 3 not "3.0"."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    return values.astype("object").map(lambda v: None if pd.isna(v) else str(v))


def clean(
    df: pd.DataFrame, target: str, numeric: set[str] = frozenset(), categorical: set[str] = frozenset()
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Cleaned rows and a report of what happened to the others.

    Rows without a target and exact duplicates are dropped (counted by reason, with the
    ragged CSV rows the reader dropped, `df.attrs["dropped_rows"]`); text is trimmed and
    missing-value tokens become missing; text columns that are numbers, or numbers with at
    most STRAY_SHARE_TOLERATED stray values (made missing, counted in `stray_values`), become
    numeric; columns declared `numeric` or `categorical` are made so.
    """
    if target not in df.columns:
        raise DataError(f"target column '{target}' not found; columns are {list(df.columns)}")
    missing = [c for c in (*sorted(numeric), *sorted(categorical)) if c not in df.columns]
    if missing:
        raise DataError(f"declared column(s) {missing} not found; columns are {list(df.columns)}")
    read_dropped = dict(df.attrs.get("dropped_rows", {}))
    rows_in = len(df) + sum(read_dropped.values())
    typed, strays = _infer_numeric(_trim(df), skip={target, *numeric, *categorical})
    for column in numeric:
        typed[column] = _force_numeric(typed[column])
    for column in categorical:
        typed[column] = _category_text(typed[column])
    has_target = typed[target].notna()
    with_target = typed[has_target]
    deduplicated = with_target.drop_duplicates()
    cleaned = deduplicated.reset_index(drop=True)
    for column in cleaned.columns:
        if not pd.api.types.is_numeric_dtype(cleaned[column]) and not pd.api.types.is_bool_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].astype("object").where(cleaned[column].notna(), None)
    report = {
        "rows_in": rows_in,
        "rows_out": len(cleaned),
        "dropped": {
            "missing_target": int((~has_target).sum()),
            "duplicate": int(len(with_target) - len(deduplicated)),
            **read_dropped,
        },
        "stray_values": strays,
        "stray_rule": {"tolerated_share": STRAY_SHARE_TOLERATED, "ambiguous_share": STRAY_SHARE_AMBIGUOUS},
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
