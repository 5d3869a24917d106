"""Cleaning raw rows: trim, coerce, drop what cannot be used, and account for every row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.errors import DataError
from common.storage import ArrowRows, read_arrow_tables, read_tables

from . import target
from .schema import MISSING_TOKENS, Schema

_BLANKS = {token: None for token in MISSING_TOKENS}


def read(files: list, bad_rows: str) -> ArrowRows | pd.DataFrame:
    """The raw rows for `clean`: pyarrow's read of CSV files (the fast path, cleaning_arrow), else read_tables'."""
    rows = read_arrow_tables(files, bad_rows, MISSING_TOKENS)
    return rows if rows is not None else read_tables(files, bad_rows)


def frame(cleaned: Any, names: list[str] | None = None) -> pd.DataFrame:
    """`clean`'s rows as a DataFrame (the fast path returns a pyarrow Table); `names`: only those columns."""
    if isinstance(cleaned, pd.DataFrame):
        return cleaned if names is None else cleaned[[c for c in cleaned.columns if c in names]]
    return cleaned.frame(names)


def _trim(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy(deep=False)  # copy-on-write: replaced columns never reach `df`, the others are not copied
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
    out = df.copy(deep=False)
    strays: dict[str, dict[str, Any]] = {}
    for column in out.columns:
        if column in skip or pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column]):
            continue
        values = out[column]
        parsed, bad = _parse_numbers(values)
        present = int(values.notna().sum())
        count = int(bad.sum())
        if present == 0 or count > STRAY_SHARE_AMBIGUOUS * present:
            continue
        examples = [str(v) for v in pd.unique(values[bad])[:STRAY_EXAMPLES]]
        if count > STRAY_SHARE_TOLERATED * present:
            raise ambiguous_column(column, count, present, examples)
        out[column] = parsed
        if count:
            strays[column] = {"count": count, "examples": examples}
    return out, strays


def ambiguous_column(column: str, count: int, present: int, examples: list[str]) -> DataError:
    return DataError(
        f"column '{column}': {count} of {present} values ({count / present:.1%}) are not numbers, "
        f"e.g. {examples}: too many to ignore as typos (over {STRAY_SHARE_TOLERATED:.0%}) and too few for a "
        f"category column (under {STRAY_SHARE_AMBIGUOUS:.0%}); fix them, or pass --categorical-columns "
        f"{column} to treat the column as categories"
    )


def not_a_number(column: str, position: int, value: Any) -> DataError:
    return DataError(f"column '{column}' row {position + 1}: {value!r} is not a number (the column was declared numeric)")


def _parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """pd.to_numeric(errors="coerce") as float64, and where a present value is not a number.

    Each distinct text is parsed once: a category column of 2 million rows has a few dozen, and
    to_numeric on every row was most of clean.py's time. Missing values stay missing.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed_uniques = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").astype("float64").to_numpy()
    parsed = np.where(codes >= 0, parsed_uniques.take(codes, mode="clip") if len(uniques) else np.nan, np.nan)
    bad_uniques = np.isnan(parsed_uniques)
    bad = (codes >= 0) & (bad_uniques.take(codes, mode="clip") if len(uniques) else False)
    return pd.Series(parsed, index=values.index, name=values.name), pd.Series(bad, index=values.index)


def _force_numeric(values: pd.Series) -> pd.Series:
    """A column declared numeric: every value must parse; the first that does not is named."""
    parsed = pd.to_numeric(values, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        position = int(bad.to_numpy().argmax())
        raise not_a_number(values.name, position, values.iloc[position])
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
    Rows read by `read` with pyarrow are cleaned by cleaning_arrow: the same rows and report, as a
    cleaning_arrow.CleanedTable (its Parquet file holds this DataFrame's rows; `frame` gives the DataFrame).
    """
    if isinstance(df, ArrowRows):
        from . import cleaning_arrow

        return cleaning_arrow.clean(df, target, numeric, categorical)
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
    # one pass and one row selection: equal rows have equal targets, so a duplicate of a row with a
    # target has one too, and marking duplicates before dropping target-less rows marks the same ones
    duplicate = typed.duplicated().to_numpy() & has_target.to_numpy()
    keep = has_target.to_numpy() & ~duplicate
    cleaned = typed[keep].reset_index(drop=True)
    for column in cleaned.columns:
        if not pd.api.types.is_numeric_dtype(cleaned[column]) and not pd.api.types.is_bool_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].astype("object").where(cleaned[column].notna(), None)
    report = {
        "rows_in": rows_in,
        "rows_out": len(cleaned),
        "dropped": {
            "missing_target": int((~has_target).sum()),
            "duplicate": int(duplicate.sum()),
            **read_dropped,
        },
        "stray_values": strays,
        "stray_rule": {"tolerated_share": STRAY_SHARE_TOLERATED, "ambiguous_share": STRAY_SHARE_AMBIGUOUS},
        "missing_by_column": {c: int(cleaned[c].isna().sum()) for c in cleaned.columns},
        "dtypes": {c: str(cleaned[c].dtype) for c in cleaned.columns},
    }
    return cleaned, report


def summarize_schema(schema: Schema, df: pd.DataFrame) -> dict[str, Any]:
    return {**schema.to_dict(), "class_counts": target.class_counts(schema, df[schema.target])}
