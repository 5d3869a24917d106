"""cleaning.clean on pyarrow columns: the same rules and report, without a pandas copy of every row.

Text columns are dictionary-encoded once; trimming, missing-value tokens and the numeric/stray type
rule then run on each column's distinct values, and the rows take their results by code. Exact
duplicates are found by a hash of every row's values, and only rows sharing a hash are compared
(by pandas' own `duplicated`, on those rows alone), so equal rows and pandas' notion of equal agree.
The result is a pyarrow Table with the pandas metadata `DataFrame.to_parquet` writes: its Parquet file
holds the pandas path's rows, types and metadata (the same bytes when pyarrow read the file in one
chunk); `CleanedTable.frame()` gives the DataFrame the pandas path returns.
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
    """One typed column: `data`, a pyarrow column (float64, int64, bool or string); text also as `codes` into
    its `distinct` values (-1: missing), in order of first appearance."""

    def __init__(self, data: pa.ChunkedArray | None = None, codes: np.ndarray | None = None,
                 distinct: np.ndarray | None = None) -> None:
        self.codes, self.distinct = codes, distinct
        self._data = data

    @property
    def is_text(self) -> bool:
        return self.codes is not None

    @property
    def data(self) -> pa.ChunkedArray:
        if self._data is None:  # text whose values trimming or the tokens changed: taken from `distinct`
            dictionary = pa.array(self.distinct, type=pa.string(), from_pandas=True)
            self._data = pa.chunked_array([dictionary.take(pa.array(self.codes, mask=self.codes < 0))])
        return self._data

    def missing(self) -> np.ndarray:
        if self.is_text:
            return self.codes < 0
        return pc.is_null(self.data, nan_is_null=True).to_numpy(zero_copy_only=False)

    def key_into(self, digest: np.ndarray) -> None:
        """Mix each row's value into `digest` so that values pandas calls equal (NaN and NaN, -0.0 and 0.0,
        missing and missing) mix in equally."""
        if self.is_text:
            _mix(digest, self.codes.astype(np.uint64))
            return
        start = 0
        for chunk in self.data.chunks:
            values = chunk.to_numpy(zero_copy_only=False)
            if values.dtype.kind == "f":
                values = np.where(np.isnan(values), np.nan, values + 0.0)  # + 0.0 turns -0.0 into 0.0
            _mix(digest[start:start + len(values)], values.astype(np.int64, copy=False).view(np.uint64)
                 if values.dtype.kind != "f" else values.view(np.uint64))
            start += len(values)


def _mix(digest: np.ndarray, key: np.ndarray) -> None:
    np.bitwise_xor(digest, key, out=digest)
    np.multiply(digest, _MIX, out=digest)
    np.bitwise_xor(digest, digest >> np.uint64(29), out=digest)


def _text(column: pa.ChunkedArray) -> _Column:
    """A text column trimmed, missing-value tokens made missing; codes in order of first appearance."""
    encoded = column.dictionary_encode()
    if encoded.num_chunks:
        dictionary = encoded.chunk(0).dictionary
        indices = np.concatenate([c.indices.fill_null(-1).to_numpy() for c in encoded.chunks])
    else:
        dictionary, indices = pa.array([], pa.string()), np.zeros(0, np.int32)
    # pandas' str.strip on Arrow-backed strings is this kernel; then the tokens
    trimmed = pd.Series(pc.utf8_trim_whitespace(dictionary).to_pylist(), dtype=object)
    trimmed = trimmed.where(~trimmed.isin(MISSING_TOKENS), None)
    # the dictionary is in order of first appearance, so factorizing it keeps that order for the trimmed values
    remap, distinct = pd.factorize(trimmed, use_na_sentinel=True)
    unchanged = len(distinct) == len(dictionary) and bool(pc.all(pc.equal(dictionary, pa.array(distinct, pa.string()))).as_py()
                                                          if len(distinct) else True)
    codes = np.append(remap, -1).astype(np.int32)[indices]  # index -1 (a missing value): the appended -1
    return _Column(column if unchanged else None, codes, np.asarray(distinct, dtype=object))


def _numbers(values: np.ndarray) -> _Column:
    return _Column(pa.chunked_array([pa.array(values, from_pandas=True)]))  # NaN -> null, as to_parquet writes it


def _numeric(column: pa.ChunkedArray) -> _Column:
    if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():  # NaN -> null: one kind of missing
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    return _Column(column)


def _parse(text: _Column) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct text as pd.to_numeric(errors="coerce") reads it, and which present ones are not numbers."""
    parsed = pd.to_numeric(pd.Series(text.distinct, dtype=object), errors="coerce").astype("float64").to_numpy()
    return parsed, np.isnan(parsed)


def _as_numbers(text: _Column, parsed: np.ndarray) -> _Column:
    return _numbers(np.append(parsed, np.nan)[text.codes])


def _infer_numeric(column: str, text: _Column) -> tuple[_Column, dict[str, Any] | None]:
    """cleaning._infer_numeric's rule for one text column, counted per distinct value."""
    parsed, bad = _parse(text)
    counts = np.bincount(text.codes[text.codes >= 0], minlength=len(text.distinct))
    present, count = int(counts.sum()), int(counts[bad].sum())
    if present == 0 or count > cleaning.STRAY_SHARE_AMBIGUOUS * present:
        return text, None
    examples = [str(v) for v in text.distinct[bad][:cleaning.STRAY_EXAMPLES]]  # in order of first appearance
    if count > cleaning.STRAY_SHARE_TOLERATED * present:
        raise cleaning.ambiguous_column(column, count, present, examples)
    return _as_numbers(text, parsed), ({"count": count, "examples": examples} if count else None)


def _force_numeric(column: str, typed: _Column) -> _Column:
    if not typed.is_text:
        return _Column(typed.data.cast(pa.float64()))
    parsed, bad = _parse(typed)
    bad_rows = np.append(bad, False)[typed.codes]
    if bad_rows.any():
        position = int(bad_rows.argmax())
        raise cleaning.not_a_number(column, position, typed.distinct[typed.codes[position]])
    return _as_numbers(typed, parsed)


def _category_text(typed: _Column) -> _Column:
    if typed.is_text:
        return typed
    codes, uniques = pd.factorize(typed.data.to_pandas(), use_na_sentinel=True)
    # cleaning's rule on the distinct values: whether every number is whole does not depend on repeats
    text = cleaning._category_text(pd.Series(uniques)).to_numpy(dtype=object)
    return _Column(codes=codes.astype(np.int64), distinct=text)


def _shared(digest: np.ndarray) -> np.ndarray:
    """Positions of the values that occur more than once. A count of each value's top bits first (one pass,
    no hashing), then a hash table of only the values whose top bits are shared."""
    bits = min(max(int(len(digest)).bit_length() + 2, 10), 23)  # 2 million rows: 8 million counts (64 MB)
    buckets = (digest >> np.uint64(64 - bits)).astype(np.intp)
    maybe = np.flatnonzero(np.bincount(buckets, minlength=1 << bits)[buckets] > 1)
    return maybe[pd.Series(digest[maybe]).duplicated(keep=False).to_numpy()]


def _duplicates(columns: list[_Column], names: list[str], rows: int) -> np.ndarray:
    """DataFrame.duplicated() of the columns: rows equal to an earlier row."""
    digest = np.zeros(rows, np.uint64)
    for column in columns:
        column.key_into(digest)
    candidates = _shared(digest)
    duplicate = np.zeros(rows, bool)
    if len(candidates):  # the exact comparison, on the rows that share a hash with another
        few = pa.table({n: c.data for n, c in zip(names, columns)}).take(pa.array(candidates))
        duplicate[candidates] = _frame(few).duplicated().to_numpy()
    return duplicate


def _keep_rows(table: pa.Table, keep: np.ndarray) -> pa.Table:
    """table.filter(keep); when few rows go, as slices of the columns between them (no copy of the rest)."""
    drops = np.flatnonzero(~keep)
    if not len(drops):
        return table
    if len(drops) > max(1000, len(keep) // 200):
        return table.filter(pa.array(keep))
    starts, ends = np.r_[0, drops + 1], np.r_[drops, len(keep)]
    return pa.concat_tables([table.slice(a, b - a) for a, b in zip(starts.tolist(), ends.tolist()) if b > a])


class CleanedTable:
    """cleaning.clean's rows as a pyarrow Table (with the pandas metadata DataFrame.to_parquet writes), and the
    DataFrame the pandas path returns, made on demand from the text columns' codes."""

    def __init__(self, table: pa.Table, text: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.table, self._text = table, text

    def frame(self, names: list[str] | None = None) -> pd.DataFrame:
        """The DataFrame, or only the columns `names` (in the table's order): building all 2 million rows' text is
        most of the cost, and clean applying pinned roles needs a few columns."""
        table = self.table if names is None else self.table.select([n for n in self.table.column_names if n in names])
        out = table.drop_columns([n for n in self._text if n in table.column_names]).to_pandas(split_blocks=True)
        columns = {}
        for name in table.column_names:
            if name in self._text:
                codes, distinct = self._text[name]
                columns[name] = pd.Series(np.append(distinct, None).astype(object)[codes], dtype=object, copy=False)
            else:
                columns[name] = out[name]
        frame = pd.concat(columns, axis=1) if columns else pd.DataFrame()
        frame.attrs = json_attrs(self.table)
        return frame


_DTYPES = {"double": "float64", "int64": "int64", "bool": "bool", "string": "object", "large_string": "object"}


def clean(rows: ArrowRows, target: str, numeric: set[str] = frozenset(),
          categorical: set[str] = frozenset()) -> tuple[CleanedTable, dict[str, Any]]:
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
    duplicate = _duplicates([typed[n] for n in names], names, table.num_rows) & has_target
    keep = has_target & ~duplicate
    cleaned = _keep_rows(pa.table({n: typed[n].data for n in names}), keep)
    dtypes = {f.name: _DTYPES[str(f.type)] for f in cleaned.schema}
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
    text = {n: (typed[n].codes[keep], typed[n].distinct) for n in names if typed[n].is_text and dtypes[n] == "object"}
    return CleanedTable(_with_pandas_metadata(cleaned, dtypes, attrs), text), report


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


def _frame(table: pa.Table) -> pd.DataFrame:
    """A table's rows as the pandas path holds them: text as object columns holding str or None."""
    out = table.to_pandas(split_blocks=True)
    for field in table.schema:
        if field.type in (pa.string(), pa.large_string()):
            out[field.name] = pd.Series(table.column(field.name).to_numpy(zero_copy_only=False), dtype=object,
                                        index=out.index)
    return out


def json_attrs(table: pa.Table) -> dict:
    import json

    raw = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    return json.loads(raw) if raw else {}
