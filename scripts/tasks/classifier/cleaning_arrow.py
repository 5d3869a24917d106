"""cleaning.clean on pyarrow columns: the same rules and report, without a pandas copy of every row.

Text columns are dictionary-encoded once; trimming, missing-value tokens and the numeric/stray type
rule then run on each column's distinct values, and the rows take their results by code. Exact
duplicates are found by a hash of every row's values, and only rows sharing a hash are compared
(by pandas' own `duplicated`, on those rows alone), so equal rows and pandas' notion of equal agree.
The result is a pyarrow Table carrying the pandas metadata `DataFrame.to_parquet` writes, so the
Parquet file is the one the pandas path writes; `frame()` gives the DataFrame the pandas path returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import DataError
from common.storage import ArrowRows

from . import cleaning
from .schema import MISSING_TOKENS

_NAN_BITS = np.float64(np.nan).view(np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant (Fibonacci hashing)


class _Column:
    """One cleaned column: numpy values (float64, int64, bool) or text as codes into `distinct` (-1: missing)."""

    def __init__(self, values: np.ndarray | None = None, codes: np.ndarray | None = None,
                 distinct: np.ndarray | None = None) -> None:
        self.values, self.codes, self.distinct = values, codes, distinct

    @property
    def is_text(self) -> bool:
        return self.codes is not None

    def missing(self) -> np.ndarray:
        if self.is_text:
            return self.codes < 0
        return np.isnan(self.values) if self.values.dtype.kind == "f" else np.zeros(len(self.values), bool)

    def key(self) -> np.ndarray:
        """uint64 per row, equal for values pandas calls equal (NaN with NaN, -0.0 with 0.0)."""
        if self.is_text:
            return self.codes.view(np.uint64)
        if self.values.dtype.kind == "f":
            bits = (self.values + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
            return np.where(np.isnan(self.values), _NAN_BITS, bits)
        return self.values.astype(np.int64, copy=False).view(np.uint64)

    def take(self, keep: np.ndarray) -> "_Column":
        if self.is_text:
            return _Column(codes=self.codes[keep], distinct=self.distinct)
        return _Column(values=self.values[keep])

    def arrow(self) -> pa.Array:
        if self.is_text:
            dictionary = pa.array(self.distinct, type=pa.string(), from_pandas=True)
            indices = pa.array(self.codes.astype(np.int32), mask=self.codes < 0)
            return dictionary.take(indices)
        return pa.array(self.values, from_pandas=True)  # NaN -> null, as DataFrame.to_parquet writes it

    def pandas(self) -> np.ndarray:
        if self.is_text:
            return np.append(self.distinct, None).astype(object)[self.codes]  # code -1: the appended None
        return self.values


def _text(column: pa.ChunkedArray) -> _Column:
    """A text column trimmed, missing-value tokens made missing; codes in order of first appearance."""
    encoded = column.dictionary_encode()
    if encoded.num_chunks:
        dictionary = encoded.chunk(0).dictionary
        indices = np.concatenate([c.indices.fill_null(-1).to_numpy() for c in encoded.chunks]).astype(np.int64)
    else:
        dictionary, indices = pa.array([], pa.string()), np.zeros(0, np.int64)
    # pandas' str.strip on Arrow-backed strings is this kernel; then the tokens
    trimmed = pd.Series(pc.utf8_trim_whitespace(dictionary).to_pylist(), dtype=object)
    trimmed = trimmed.where(~trimmed.isin(MISSING_TOKENS), None)
    # the dictionary is in order of first appearance, so factorizing it keeps that order for the trimmed values
    remap, distinct = pd.factorize(trimmed, use_na_sentinel=True)
    codes = np.append(remap, -1)[indices]  # index -1 (a missing value): the appended -1
    return _Column(codes=codes, distinct=np.asarray(distinct, dtype=object))


def _numeric(column: pa.ChunkedArray) -> _Column:
    return _Column(values=column.to_numpy())  # float64 nulls arrive as NaN: one kind of missing


def _parse(text: _Column) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct text as pd.to_numeric(errors="coerce") reads it, and which present ones are not numbers."""
    parsed = pd.to_numeric(pd.Series(text.distinct, dtype=object), errors="coerce").astype("float64").to_numpy()
    return parsed, np.isnan(parsed)


def _as_numbers(text: _Column, parsed: np.ndarray) -> _Column:
    return _Column(values=np.append(parsed, np.nan)[text.codes])


def _infer_numeric(column: str, text: _Column) -> tuple[_Column, dict[str, Any] | None]:
    """cleaning._infer_numeric's rule for one text column, counted per distinct value."""
    parsed, bad = _parse(text)
    counts = np.bincount(text.codes[text.codes >= 0], minlength=len(text.distinct))
    present, count = int(counts.sum()), int(counts[bad].sum())
    if present == 0 or count > cleaning.STRAY_SHARE_AMBIGUOUS * present:
        return text, None
    examples = [str(v) for v in text.distinct[bad][:cleaning.STRAY_EXAMPLES]]  # in order of first appearance
    if count > cleaning.STRAY_SHARE_TOLERATED * present:
        raise DataError(
            f"column '{column}': {count} of {present} values ({count / present:.1%}) are not numbers, "
            f"e.g. {examples}: too many to ignore as typos (over {cleaning.STRAY_SHARE_TOLERATED:.0%}) and too few "
            f"for a category column (under {cleaning.STRAY_SHARE_AMBIGUOUS:.0%}); fix them, or pass "
            f"--categorical-columns {column} to treat the column as categories"
        )
    return _as_numbers(text, parsed), ({"count": count, "examples": examples} if count else None)


def _force_numeric(column: str, typed: _Column) -> _Column:
    if not typed.is_text:
        return _Column(values=typed.values.astype("float64"))
    parsed, bad = _parse(typed)
    bad_rows = np.append(bad, False)[typed.codes]
    if bad_rows.any():
        position = int(bad_rows.argmax())
        raise DataError(f"column '{column}' row {position + 1}: {typed.distinct[typed.codes[position]]!r} is not a "
                        "number (the column was declared numeric)")
    return _as_numbers(typed, parsed)


def _category_text(typed: _Column) -> _Column:
    if typed.is_text:
        return typed
    codes, uniques = pd.factorize(pd.Series(typed.values), use_na_sentinel=True)
    # cleaning's rule on the distinct values: whether every number is whole does not depend on repeats
    text = cleaning._category_text(pd.Series(uniques)).to_numpy(dtype=object)
    return _Column(codes=codes.astype(np.int64), distinct=text)


def _duplicates(columns: list[_Column], names: list[str]) -> np.ndarray:
    """DataFrame.duplicated() of the columns: rows equal to an earlier row."""
    rows = len(columns[0].codes if columns[0].is_text else columns[0].values) if columns else 0
    digest = np.zeros(rows, np.uint64)
    for column in columns:
        np.bitwise_xor(digest, column.key(), out=digest)
        np.multiply(digest, _MIX, out=digest)
        np.bitwise_xor(digest, digest >> np.uint64(29), out=digest)
    shared = pd.Series(digest).duplicated(keep=False).to_numpy()
    duplicate = np.zeros(rows, bool)
    candidates = np.flatnonzero(shared)
    if len(candidates):  # the exact comparison, on the rows that share a hash with another
        frame = pd.DataFrame({n: c.take(candidates).pandas() for n, c in zip(names, columns)})
        duplicate[candidates] = frame.duplicated().to_numpy()
    return duplicate


_DTYPES = {"f": "float64", "i": "int64", "b": "bool"}


def clean(rows: ArrowRows, target: str, numeric: set[str] = frozenset(),
          categorical: set[str] = frozenset()) -> tuple[pa.Table, dict[str, Any]]:
    """cleaning.clean of rows read by storage.read_arrow_tables: the same rows, types and report."""
    table = rows.table
    names = list(table.column_names)
    if target not in names:
        raise DataError(f"target column '{target}' not found; columns are {names}")
    missing = [c for c in (*sorted(numeric), *sorted(categorical)) if c not in names]
    if missing:
        raise DataError(f"declared column(s) {missing} not found; columns are {names}")
    read_dropped = dict(rows.dropped_rows)
    rows_in = table.num_rows + sum(read_dropped.values())
    skip = {target, *numeric, *categorical}
    typed: dict[str, _Column] = {}
    strays: dict[str, dict[str, Any]] = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            typed[name] = _text(column)
            if name not in skip:
                typed[name], stray = _infer_numeric(name, typed[name])
                if stray:
                    strays[name] = stray
        else:
            typed[name] = _numeric(column)
    for name in numeric:
        typed[name] = _force_numeric(name, typed[name])
    for name in categorical:
        typed[name] = _category_text(typed[name])
    has_target = ~typed[target].missing()
    # as cleaning.clean: duplicates marked before target-less rows are dropped mark the same rows
    duplicate = _duplicates([typed[n] for n in names], names) & has_target
    keep = has_target & ~duplicate
    kept = {n: typed[n].take(keep) for n in names}
    cleaned = pa.table({n: kept[n].arrow() for n in names})
    dtypes = {n: "object" if c.is_text else _DTYPES[c.values.dtype.kind] for n, c in kept.items()}
    attrs = {"dropped_rows": read_dropped}
    report = {
        "rows_in": rows_in,
        "rows_out": cleaned.num_rows,
        "dropped": {"missing_target": int((~has_target).sum()), "duplicate": int(duplicate.sum()), **read_dropped},
        "stray_values": strays,
        "stray_rule": {"tolerated_share": cleaning.STRAY_SHARE_TOLERATED, "ambiguous_share": cleaning.STRAY_SHARE_AMBIGUOUS},
        "missing_by_column": {n: int(cleaned.column(n).null_count) for n in names},
        "dtypes": dtypes,
    }
    return _with_pandas_metadata(cleaned, dtypes, attrs), report


def _with_pandas_metadata(table: pa.Table, dtypes: dict[str, str], attrs: dict) -> pa.Table:
    """The schema metadata DataFrame.to_parquet(index=False) writes for a frame of these dtypes and attrs."""
    import json

    sample = {"object": "x", "float64": 0.0, "int64": 0, "bool": False}  # one row: an empty object column has no type
    one = pd.DataFrame({n: pd.Series([sample[d]], dtype=d) for n, d in dtypes.items()})
    one.attrs = attrs
    metadata = dict(pa.Schema.from_pandas(one, preserve_index=False).metadata)
    if attrs:
        metadata[b"PANDAS_ATTRS"] = json.dumps(attrs).encode()
    return table.replace_schema_metadata(metadata)


def frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame cleaning.clean returns for these rows: text as object columns holding str or None."""
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_string(column.type):
            columns[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
        else:
            columns[name] = column.to_pandas()
    out = pd.DataFrame(columns)
    out.attrs = json_attrs(table)
    return out


def json_attrs(table: pa.Table) -> dict:
    import json

    raw = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    return json.loads(raw) if raw else {}
