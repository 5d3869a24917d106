"""Request bodies -> a Batch of typed columns in the model's feature order, or a 400 naming row and column.

pandas parsing cost more than the prediction (4-6 ms for 1,000 CSV rows), so rows go
straight into arrays: the stdlib csv module for small bodies (microseconds for one
row), pyarrow for large ones. The stdlib path is the reference: whenever pyarrow
refuses a body, the stdlib path parses it again and either serves it or names the
row, line and column at fault. Missing values (pandas' default NA tokens, as in
training) and unseen categories pass through; the model's preprocessing handles them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tasks.classifier.schema import MISSING_TOKENS

from .errors import RequestError
from .media import ARROW, CSV, JSON, PARQUET

# What training read as missing is missing here too: one set for cleaning and serving.
NULL_TOKENS = MISSING_TOKENS
_NULLS = pa.array(sorted(NULL_TOKENS), pa.string())
_NULL_STRING = pa.scalar(None, pa.string())
SMALL_CSV_BYTES = 8192  # below this the stdlib reader beats pyarrow's fixed cost
_UTF8 = ("utf-8", "ascii")
_PLAIN_NUMBERS = {int, float, type(None)}

Where = Callable[[int], str]


def _row(i: int) -> str:
    return f"row {i + 1}"


def shown(value: Any, limit: int = 60) -> str:
    """A client's value as an error message quotes it: at most `limit` characters of it, and its length.

    A 5 MB string in a field must not become a 5 MB error body and log line.
    """
    text = value if isinstance(value, str) else None
    if text is None:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            text = type(value).__name__
        return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


@dataclass
class Batch:
    rows: int
    numeric: np.ndarray  # (rows, len(schema.numeric)) float64, NaN where missing
    categorical: list  # per categorical feature: pa.DictionaryArray of text, or a list of str/None


def text_number(value: str, i: int, column: str, where: Where = _row) -> float:
    """One text field -> float; NA tokens -> NaN. Only what pyarrow also accepts (no '1_000', no non-ASCII digits)."""
    text = value.strip()
    if text in NULL_TOKENS:
        return math.nan
    if text.isascii() and "_" not in text:
        try:
            return float(text)
        except ValueError:
            pass
    raise RequestError(400, f"{where(i)}, column '{column}': {shown(value)} is not a number")


def _text_category(value: str) -> str | None:
    text = value.strip()
    return None if text in NULL_TOKENS else text


def _json_number(value: Any, i: int, column: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range
            return math.inf
    if isinstance(value, str):
        return text_number(value, i, column)
    raise RequestError(400, f"row {i + 1}, column '{column}': {shown(value)} is not a number")


def _json_category(value: Any, i: int, column: str) -> str | None:
    if isinstance(value, str):
        return _text_category(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float)):
        return str(value)  # as training's preprocessing does: categories compare as text
    raise RequestError(400, f"row {i + 1}, column '{column}': {shown(value)} is not a category value")


def _clean_text(text: pa.Array) -> pa.Array:
    """Trimmed text with NA tokens as nulls, as the stdlib path reads fields."""
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.is_in(text, value_set=_NULLS), _NULL_STRING, text)


def _arrow_numbers(text: pa.Array, column: str, where: Where = _row) -> np.ndarray:
    text = _clean_text(text)
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # name the bad value, or serve what only pyarrow refused
        values = text.to_pylist()
        return np.array([math.nan if v is None else text_number(v, i, column, where) for i, v in enumerate(values)])


def _arrow_categories(array: pa.Array) -> pa.DictionaryArray:
    """Categories dictionary-encoded, so cleaning and encoding run once per distinct value, not per row."""
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast(pa.string()))
    return pa.DictionaryArray.from_arrays(array.indices, _clean_text(array.dictionary.cast(pa.string())))


def _objects(values) -> np.ndarray:
    """A category column as an object array of text and None: the dictionary's words taken by index, in C."""
    if isinstance(values, pa.DictionaryArray):
        words = np.append(values.dictionary.to_numpy(zero_copy_only=False), None)  # last: a null index
        return words[values.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    if isinstance(values, pa.Array):
        return values.to_numpy(zero_copy_only=False)
    column = np.empty(len(values), dtype=object)  # not np.array(values): it would guess a shape or a dtype
    column[:] = values
    return column


def _whole(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
    return column.combine_chunks()


def _json_numbers(values: Sequence, column: str) -> Sequence[float]:
    """Plain numbers and nulls convert in C; text, booleans and the rest take the checking path."""
    if set(map(type, values)) <= _PLAIN_NUMBERS:
        try:
            return pa.array(values, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowException, OverflowError):  # an integer beyond 64 bits
            pass
    return [_json_number(v, i, column) for i, v in enumerate(values)]


def _json_categories(values: Sequence, column: str):
    try:
        return _arrow_categories(pa.array(values, pa.string()))
    except pa.ArrowException:
        return [_json_category(v, i, column) for i, v in enumerate(values)]


class Decoder:
    """Decodes bodies for one schema into numeric features first, then categorical.

    Positional input (headerless CSV, JSON rows as lists) carries the features in the
    training data's column order (`wire`), as SageMaker's headerless CSV convention expects.
    """

    def __init__(self, schema):
        self.numeric = list(schema.numeric)
        self.categorical = list(schema.categorical)
        self.features = self.numeric + self.categorical
        self.wire = list(schema.features)
        self._wire_positions = [self.wire.index(f) for f in self.features]
        # a first CSV line is a header when it names most features, or nothing but known columns
        self._feature_names = set(self.features)
        self._header_names = set(self.features) | {schema.target, *schema.id_columns}
        # record -> tuple of its feature values, in C; KeyError names a missing feature
        self._pick = (operator.itemgetter(*self.features) if len(self.features) > 1
                      else lambda record, f=self.features[0]: (record[f],))
        # built once: pandas 3 makes an Arrow string index of a list of names on every frame otherwise
        self._frame_columns = pd.Index(self.wire, dtype=object)

    def frame(self, batch: Batch) -> pd.DataFrame:
        """The batch as the raw rows the artifact's own pipeline reads: what `Model.prepare` returns for them
        (the features in training order, numbers float64, categories as objects: text, None where missing).

        Columns go in as arrays, two blocks (float64, object): turning each category column into a Python
        list (`to_pylist`, about 1.5 us a value) cost more than the pipeline's prediction at 1,000 rows.
        """
        columns = dict(zip(self.numeric, batch.numeric.T))
        for name, values in zip(self.categorical, batch.categorical):
            # object dtype said explicitly: pandas 3 would make Arrow strings of it, which prepare does not
            columns[name] = pd.Series(_objects(values), dtype=object, copy=False)
        return pd.DataFrame({name: columns[name] for name in self.wire}, columns=self._frame_columns)

    def decode(self, kind: str, body: bytes, charset: str = "utf-8", params: dict | None = None) -> Batch:
        if not body:
            raise RequestError(400, "empty request body")
        if kind == CSV:
            header = (params or {}).get("header", "").strip().lower()
            if header not in ("", "present", "absent"):
                raise RequestError(400, f"Content-Type parameter header={shown(header)}: use header=present "
                                        "or header=absent (or leave it out to detect a header row)")
            return self._csv(body, charset, header)
        if kind == JSON:
            return self._json(body, charset)
        try:
            if kind == ARROW:
                table = pa.ipc.open_stream(pa.BufferReader(body)).read_all()
            elif kind == PARQUET:
                # ParquetFile, not read_table: the dataset reader refuses repeated column names unnamed
                table = pq.ParquetFile(pa.BufferReader(body)).read(use_threads=False)
            else:
                raise ValueError(f"no decoder for {kind}")
        except (pa.ArrowException, OSError) as exc:
            raise RequestError(400, f"unreadable {kind} body: {exc}") from None
        return self._table(table, kind)

    # -- assembling a batch ------------------------------------------------------------------
    def _batch(self, rows: int, numeric: Sequence, categorical: list, where: Where = _row) -> Batch:
        if rows == 0:
            raise RequestError(400, "no data rows in the request")
        matrix = np.empty((rows, len(self.numeric)), dtype=np.float64)
        for j, column in enumerate(numeric):
            matrix[:, j] = column
        infinite = np.isinf(matrix)
        if infinite.any():  # the preprocessing would fail on it: a client error, not a 500
            i, j = np.argwhere(infinite)[0]
            raise RequestError(
                400, f"{where(int(i))}, column '{self.numeric[j]}': {matrix[i, j]} is not a finite number")
        return Batch(rows, matrix, categorical)

    # -- CSV -------------------------------------------------------------------------------
    def _csv(self, body: bytes, charset: str, header_param: str) -> Batch:
        if charset not in _UTF8:
            body = self._text(body, charset).encode("utf-8")
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        first = self._first_record(body)
        header = header_param == "present" or (header_param != "absent" and self._is_header(first))
        index, width = self._layout([f.strip() for f in first] if header else None)
        if len(body) > SMALL_CSV_BYTES:
            batch = self._csv_arrow(body, header)
            if batch is not None:
                return batch
        return self._csv_stdlib(self._text(body, "utf-8"), header, index, width)

    def _is_header(self, record: list[str]) -> bool:
        """Judged on the whole line, never on one field (a category value may equal a column name):
        a header names more than half of the features, or nothing but known column names.
        Content-Type `text/csv; header=present` or `header=absent` decides instead."""
        names = {field.strip() for field in record}
        return bool(names) and (2 * len(names & self._feature_names) > len(self._feature_names)
                                or names <= self._header_names)

    @staticmethod
    def _text(body: bytes, charset: str) -> str:
        try:
            return body.decode(charset)
        except UnicodeDecodeError as exc:
            raise RequestError(400, f"body is not valid {charset} at byte {exc.start}") from None
        except (UnicodeError, LookupError) as exc:  # codecs such as idna raise the base class
            raise RequestError(400, f"body is not valid {charset}: {shown(str(exc))}") from None

    @staticmethod
    def _first_record(body: bytes) -> list[str]:
        end = body.find(b"\n", 0, 1 << 20)
        line = body[: end if end >= 0 else 1 << 20].decode("utf-8", errors="replace")
        try:
            return next(csv.reader([line]), [])
        except csv.Error:
            return []

    def _layout(self, header: list[str] | None) -> tuple[list[int], int]:
        """Field positions of the features, and the field count every row must have."""
        if header is None:
            return self._wire_positions, len(self.wire)
        return self._positions(header, "CSV header"), len(header)

    def _positions(self, names: list[str], source: str) -> list[int]:
        """Where each feature is among a header's or a table's column names; 400 if one is missing or repeated."""
        missing = [f for f in self.features if f not in names]
        if missing:
            raise RequestError(400, f"{source} lacks column(s) {missing}")
        repeated = [f for f in self.features if names.count(f) > 1]
        if repeated:
            raise RequestError(400, f"{source} names column(s) {repeated} more than once")
        return [names.index(f) for f in self.features]

    def _csv_stdlib(self, text: str, header: bool, index: list[int], width: int) -> Batch:
        reader = csv.reader(io.StringIO(text), strict=True)
        records, lines = [], []
        try:
            for record in reader:
                if record:  # blank lines are skipped, as pyarrow does
                    records.append(record)
                    lines.append(reader.line_num)
        except csv.Error as exc:
            raise RequestError(400, f"malformed CSV at line {reader.line_num}: {exc}") from None
        if header:
            records, lines = records[1:], lines[1:]

        def where(i: int) -> str:
            return f"row {i + 1} (line {lines[i]})"

        for i, record in enumerate(records):
            if len(record) != width:
                expected = "as in the header" if header else (
                    f"the features {self.wire} in this order, or a header row naming them "
                    "(Content-Type text/csv; header=present to say so)")
                raise RequestError(400, f"{where(i)}: {len(record)} fields, expected {width} ({expected})")
        columns = [[record[j] for record in records] for j in index]
        n_num = len(self.numeric)
        numeric = [[text_number(v, i, name, where) for i, v in enumerate(values)]
                   for name, values in zip(self.numeric, columns[:n_num])]
        categorical = [[_text_category(v) for v in values] for values in columns[n_num:]]
        return self._batch(len(records), numeric, categorical, where)

    def _csv_arrow(self, body: bytes, header: bool) -> Batch | None:
        """pyarrow's reader; None when it refuses the body (the stdlib path then serves it or names the fault)."""
        types = {**{f: pa.float64() for f in self.numeric},
                 **{f: pa.dictionary(pa.int32(), pa.string()) for f in self.categorical}}
        try:
            table = pacsv.read_csv(
                pa.BufferReader(body),
                read_options=pacsv.ReadOptions(use_threads=False, column_names=None if header else self.wire,
                                               block_size=max(len(body) + 1, 1 << 20)),  # one chunk
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=self.features, null_values=sorted(NULL_TOKENS),
                    strings_can_be_null=True, quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowException, OSError):
            return None
        numeric = [table.column(f).to_numpy() for f in self.numeric]  # nulls -> NaN
        categorical = [_arrow_categories(_whole(table.column(f))) for f in self.categorical]
        return self._batch(table.num_rows, numeric, categorical)

    # -- JSON ------------------------------------------------------------------------------
    def _json(self, body: bytes, charset: str) -> Batch:
        try:
            doc = json.loads(body if charset in _UTF8 else self._text(body, charset))
        except UnicodeDecodeError as exc:
            raise RequestError(400, f"JSON body is not valid UTF-8 at byte {exc.start}") from None
        except ValueError as exc:
            raise RequestError(400, f"malformed JSON: {exc}") from None
        except RecursionError:
            raise RequestError(400, "malformed JSON: nested too deeply") from None
        rows = doc.get("instances") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise RequestError(400, 'expected a JSON list of records, or {"instances": [...]}')
        try:  # the common case in C: every record an object with every feature
            table = [self._pick(record) for record in rows]
        except (KeyError, TypeError):
            table = [self._json_row(i, record) for i, record in enumerate(rows)]
        columns = list(zip(*table))
        n_num = len(self.numeric)
        numeric = [_json_numbers(values, name) for name, values in zip(self.numeric, columns[:n_num])]
        categorical = [_json_categories(values, name) for name, values in zip(self.categorical, columns[n_num:])]
        return self._batch(len(table), numeric, categorical)

    def _json_row(self, i: int, record) -> Sequence:
        if isinstance(record, dict):
            missing = [f for f in self.features if f not in record]
            if missing:
                raise RequestError(400, f"row {i + 1}: missing column(s) {missing} (send null for a missing value)")
            return self._pick(record)
        if isinstance(record, list):
            if len(record) != len(self.wire):
                raise RequestError(
                    400, f"row {i + 1}: {len(record)} values, expected {len(self.wire)} ({self.wire})")
            return [record[p] for p in self._wire_positions]
        raise RequestError(400, f"row {i + 1}: expected an object or a list, got {type(record).__name__}")

    # -- Arrow and Parquet -------------------------------------------------------------------
    def _table(self, table: pa.Table, kind: str) -> Batch:
        self._positions(table.column_names, f"{kind} body")
        numeric = [self._table_numbers(_whole(table.column(f)), f) for f in self.numeric]
        categorical = [self._table_categories(_whole(table.column(f)), f) for f in self.categorical]
        return self._batch(table.num_rows, numeric, categorical)

    @staticmethod
    def _table_numbers(array: pa.Array, column: str) -> np.ndarray:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        kind = array.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) \
                or pa.types.is_null(kind):
            # safe=False: an integer beyond 2**53 becomes the nearest float, as the same number in CSV or JSON does
            return array.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        if _is_text(kind):
            return _arrow_numbers(array.cast(pa.string()), column)
        raise RequestError(400, f"column '{column}' has type {kind}; expected numbers")

    @staticmethod
    def _table_categories(array: pa.Array, column: str) -> pa.DictionaryArray:
        if pa.types.is_dictionary(array.type):
            if _is_text(array.type.value_type):
                return _arrow_categories(array)
            array = array.dictionary_decode()
        kind = array.type
        if _is_text(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind):
            return _arrow_categories(array)
        if pa.types.is_floating(kind) or pa.types.is_boolean(kind):  # str(2.0) == "2.0", as in training
            values = array.to_pylist()
            return _arrow_categories(pa.array([None if v is None or v != v else str(v) for v in values], pa.string()))
        raise RequestError(400, f"column '{column}' has type {kind}; expected text or numbers")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)
