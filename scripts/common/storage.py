"""Reading inputs with errors that name the file, and writing outputs atomically.

pandas is imported where tables are read or written, so that light importers (the pipeline spec)
do not pay for it.

Every output is written under a temporary name in the same directory and renamed into
place, so the next step (or S3 upload) never sees half a file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

from .errors import ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
BAD_ROWS = ("refuse", "drop")  # what to do with CSV rows whose field count differs from the header's


def _umask() -> int:
    """The process umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class PendingWrite:
    """A file a thread writes under a temporary name beside `path` (atomic_path's): `write(handle)` gets an open
    pyarrow file (writing it needs no GIL). `finish()` waits for it and renames it into place; a step that
    fails first leaves nothing: the temporary name is removed when this object goes (the thread's writes then
    go to an unlinked file)."""

    def __init__(self, path: Path, write: Any) -> None:
        import weakref
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow as pa

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp_name)
        os.chmod(self._tmp, 0o666 & ~_umask())
        self._handle = pa.OSFile(tmp_name, "wb")
        self._cleanup = weakref.finalize(self, self._tmp.unlink, missing_ok=True)
        pool = ThreadPoolExecutor(1)
        self._done = pool.submit(write, self._handle)
        pool.shutdown(wait=False)

    def finish(self) -> Path:
        try:
            self._done.result()
            self._handle.close()
            with open(self._tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self._tmp, self.path)
        finally:
            self._cleanup()
        return self.path


def remove_temporaries(directory: Path) -> list[Path]:
    """Delete what atomic_path leaves behind when a process is killed mid-write (`.<name>.*.tmp`)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def intern_strings(root: Any, replace: Callable[[Any], Any] | None = None) -> None:
    """Make every equal string in an object graph one object (sys.intern), in place.

    Pickle writes a string once per object, and which equal strings are one object depends on
    the process's history: a tree built by sklearn shares the interned 'max_depth', a tree
    restored from a checkpoint holds its own copy. So a resumed model pickled to other bytes than
    an uninterrupted one although every value is equal. With every string interned the bytes
    depend on the values alone, and equal models have equal SHA-256s. Tuples holding strings are
    rebuilt (once each, so shared ones stay shared); objects without a __dict__ keep theirs.
    `replace(value)`: a canonical stand-in for a value that is not a string or tuple, or None to keep
    it (the training core's arrays and generators); each value is replaced once, so shared stay shared.
    """
    import numpy as np

    seen: set[int] = set()
    rebuilt: dict[int, tuple] = {}
    stack = [root]

    def canon(value: Any) -> Any:
        if type(value) is str:
            return sys.intern(value)
        if type(value) is tuple:
            if id(value) not in rebuilt:
                rebuilt[id(value)] = tuple(canon(v) for v in value)
            return rebuilt[id(value)]
        if replace is not None:
            if id(value) not in rebuilt:
                stand_in = replace(value)
                rebuilt[id(value)] = value if stand_in is None else stand_in
                stack.append(rebuilt[id(value)])
            return rebuilt[id(value)]
        stack.append(value)
        return value

    while stack:
        node = stack.pop()
        if id(node) in seen or isinstance(node, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            items = list(node.items())
            node.clear()
            node.update((canon(k), canon(v)) for k, v in items)
        elif isinstance(node, list):
            node[:] = [canon(v) for v in node]
        elif isinstance(node, np.ndarray) and node.dtype == object:
            for index in np.ndindex(node.shape):
                node[index] = canon(node[index])
        elif isinstance(getattr(node, "__dict__", None), dict):
            stack.append(node.__dict__)


def stable_joblib_bytes(obj: Any) -> bytes:
    """joblib bytes of `obj` that depend on its values, not on how this process came to hold it."""
    import joblib

    intern_strings(obj)
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


def write_table(df: pd.DataFrame, path: Path) -> None:
    if path.suffix != ".csv":
        return write_arrow_table(pandas_table(df), path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def pandas_table(df: pd.DataFrame) -> Any:
    """The pyarrow Table DataFrame.to_parquet(index=False) writes: the pandas metadata, and the attrs too."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if df.attrs:
        table = table.replace_schema_metadata({**table.schema.metadata, b"PANDAS_ATTRS": json.dumps(df.attrs).encode()})
    return table


def write_arrow_table(table: Any, path: Path) -> None:
    """A pyarrow Table as Parquet, written as DataFrame.to_parquet writes it (snappy)."""
    with atomic_path(path) as tmp:
        write_parquet(table, tmp)


def write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, compression="snappy")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> Any | None:
    """The parsed JSON file, or None when it does not exist; malformed JSON names the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#x} at offset {exc.start})") from None
    except OSError as exc:  # a directory where the file should be, unreadable permissions
        raise ConfigError(f"{path}: unreadable ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def table_files(directory: Path, suffixes: tuple[str, ...] = TABLE_SUFFIXES) -> list[Path]:
    """Every CSV/Parquet file below `directory` (shards in subfolders too), in a stable order."""
    files = sorted(p for p in Path(directory).rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(directory).parts)]
    if not files:
        raise DataError(f"no CSV or Parquet files in {directory}")
    return files


def read_table(path: Path, bad_rows: str = "refuse") -> pd.DataFrame:
    """One file, as strings-as-read; errors name the file (and the line).

    CSV rows with too few or too many fields are refused naming the line, or with
    `bad_rows="drop"` dropped and counted in `df.attrs["dropped_rows"]` by reason;
    a header that names a column twice is refused (pandas would rename it `x.1`).
    """
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    dropped = {"too_few_fields": 0, "too_many_fields": 0}
    try:
        if path.suffix.lower() == ".csv":
            source, dropped = _checked_csv(path, bad_rows)
            df = pd.read_csv(source, encoding="utf-8", skipinitialspace=True)
        else:
            df = pd.read_parquet(path)
    except UnicodeDecodeError:
        raise DataError(f"{path}: {_first_undecodable(path)}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: no header and no rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV: {exc}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable: {exc}") from None
    _refuse_repeated_names(path, list(df.columns))
    if df.empty:
        raise DataError(f"{path}: has a header but no rows")
    df.attrs["dropped_rows"] = dropped
    return df


def _refuse_repeated_names(path: Path, names: list) -> None:
    seen: set = set()
    repeated = [n for n in names if n in seen or seen.add(n)]
    if repeated:
        raise DataError(f"{path}: column name(s) {sorted(set(map(str, repeated)))} appear more than once; "
                        "rename them so every column has its own name")


def _checked_csv(path: Path, bad_rows: str) -> tuple[Path | io.StringIO, dict[str, int]]:
    """The CSV to parse (the file itself, or its good rows) and the rows dropped by reason.

    One pass of the stdlib reader, which splits fields as pandas' C parser does (quotes,
    doubled quotes, newlines inside quotes); pandas would pad short rows with NaN.
    """
    if bad_rows not in BAD_ROWS:
        raise DataError(f"bad_rows must be one of {list(BAD_ROWS)}, got {bad_rows!r}")
    dropped = {"too_few_fields": 0, "too_many_fields": 0}
    if _every_record_fits(path):
        return path, dropped
    bad_lines: list[int] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header, start = None, 1
        try:
            for record in reader:
                line, start = start, reader.line_num + 1
                if not record:  # blank lines are skipped, as pandas does
                    continue
                if header is None:
                    header = [name.lstrip() for name in record]  # skipinitialspace, as read below
                    _refuse_repeated_names(path, header)
                    continue
                if len(record) != len(header):
                    reason = "too_few_fields" if len(record) < len(header) else "too_many_fields"
                    if bad_rows == "refuse":
                        raise DataError(
                            f"{path} line {line}: {len(record)} fields, expected {len(header)} as in the header; "
                            "fix the row, or pass --bad-rows drop to drop such rows and count them in the report"
                        )
                    dropped[reason] += 1
                    bad_lines.append(line)
        except csv.Error as exc:
            raise DataError(f"{path} line {reader.line_num}: malformed CSV: {exc}") from None
    if not bad_lines:
        return path, dropped
    return _without_records(path, set(bad_lines)), dropped


def _every_record_fits(path: Path) -> bool:
    """The common case, checked without Python code per record: every record has the header's field count.

    False on any doubt (a ragged record, a csv.Error); the record-by-record pass then names the line.
    """
    plain = _plain_lines_fit(path)
    if plain is not None:
        return plain
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next((record for record in reader if record), None)
            if header is None:
                return True
            _refuse_repeated_names(path, [name.lstrip() for name in header])
            return set(map(len, reader)) <= {0, len(header)}  # 0: blank lines, skipped as pandas does
        except csv.Error:
            return False


PLAIN_BLOCK = 1 << 25  # bytes read at a time by _plain_lines_fit: bounds its memory


def _plain_lines_fit(path: Path) -> bool | None:
    """_every_record_fits, with numpy, for a file whose rows hold no quotes, carriage returns or NUL bytes.

    In such rows every line is one record (a blank line none) and its fields are its commas plus one,
    exactly as csv.reader splits them. The header line may be quoted (pyarrow, R and Excel quote
    names); it is parsed by csv.reader. None when the file is not that plain: the caller parses it.
    Not decoding the rows here is safe: pandas decodes the file next and its UnicodeDecodeError is reported.
    """
    import numpy as np

    with open(path, "rb") as handle:
        first = handle.readline()
        if not first.strip() or b"\r" in first or b"\x00" in first:
            return None  # blank lines before the header, CR line ends: leave them to csv.reader
        header = next(csv.reader(io.StringIO(first.decode("utf-8", "replace"))))
        if any("\n" in name for name in header):
            return None  # a quoted name runs on past the line
        _refuse_repeated_names(path, [name.lstrip() for name in header])
        carry = b""
        while True:
            block = handle.read(PLAIN_BLOCK)
            data = carry + block
            if block:  # whole lines only; the rest waits for the next block
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
            if any(special in data for special in (b'"', b"\r", b"\x00")):
                return None
            if data:
                codes = np.frombuffer(data, dtype=np.uint8)
                starts = np.r_[0, np.flatnonzero(codes == ord("\n")) + 1]
                starts = starts[starts < len(codes)]
                fields = np.add.reduceat(codes == ord(","), starts, dtype=np.int64) + 1
                ends = np.r_[starts[1:], len(codes)]
                blank = (ends - starts) == (codes[ends - 1] == ord("\n"))  # nothing but the line's newline
                if not (fields[~blank] == len(header)).all():
                    return False
            if not block:
                return True


def _without_records(path: Path, lines: set[int]) -> io.StringIO:
    """The file's text minus the records that start on the given lines (only paid when rows are dropped)."""
    kept = io.StringIO()
    writer = csv.writer(kept, lineterminator="\n")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if record and line not in lines:
                writer.writerow(record)
    kept.seek(0)
    return kept


def _first_undecodable(path: Path) -> str:
    """Where the file stops being UTF-8 (pandas reports offsets within a chunk, not the file)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"not UTF-8 text (byte {data[exc.start]:#x} at offset {exc.start}, line {line}); save it as UTF-8"
    return "not UTF-8 text"


def read_tables(source: Path | list[Path], bad_rows: str = "refuse") -> pd.DataFrame:
    """All table files below a directory (or the files given), concatenated; their columns must agree
    (in any order: the first file's order wins). Rows dropped by `bad_rows` are in `attrs["dropped_rows"]`."""
    import pandas as pd

    files = table_files(source) if isinstance(source, Path) else list(source)
    frames = [read_table(p, bad_rows) for p in files]
    first = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:]):
        if sorted(frame.columns) != sorted(first):
            missing = sorted(set(first) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(first))
            raise DataError(f"{path}: columns differ from {files[0].name} (missing {missing}, extra {extra})")
    combined = pd.concat([f[first] for f in frames], ignore_index=True)
    combined.attrs["dropped_rows"] = {
        reason: sum(f.attrs["dropped_rows"][reason] for f in frames) for reason in frames[0].attrs["dropped_rows"]
    }
    return combined


def sha256_frame(df: pd.DataFrame) -> str:
    """A content hash of a table, independent of file format: identifies the training data."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest = hashlib.sha256(",".join(map(str, df.columns)).encode())
    digest.update(hashed.tobytes())
    return digest.hexdigest()



# ---- the Arrow reader (clean.py's fast path) --------------------------------------------------------
class ArrowRows(NamedTuple):
    """CSV rows as pyarrow read them, typed as read_tables types them; rows dropped by `bad_rows`, by reason."""

    table: Any  # pyarrow.Table
    dropped_rows: dict[str, int]


ARROW_BLOCK = 1 << 23  # bytes pyarrow parses at a time: a column in 8 MB pieces, not 1 MB (fewer chunks to walk)


class _RaggedRecord(Exception):
    pass


def read_arrow_tables(files: list[Path], bad_rows: str, na_tokens: frozenset[str]) -> ArrowRows | None:
    """read_tables' rows as one pyarrow Table, or None when only read_tables reads them as it does.

    Every file must be CSV (Parquet keeps pandas' own reading); `na_tokens` are pandas.read_csv's
    default missing-value tokens. Each column gets the type pandas.read_csv gives it: int64, float64
    (integers with gaps, columns without a value), bool, or string (pandas' object columns: dates
    and times stay text, booleans with gaps are "True"/"False"). The checks and their messages are
    read_table's: ragged records refused naming the line or dropped by reason, repeated names,
    undecodable bytes, empty files. None when files disagree on a column's type other than int64
    against float64 (pandas would mix values in an object column). Known differences from pandas'
    parser, in spellings we have not seen written: hexadecimal integers ("0x1F") read as numbers and
    integers with a leading "+" as float64.
    """
    if not files or any(Path(p).suffix.lower() != ".csv" for p in files):
        return None
    import pyarrow as pa

    read = [_read_arrow_csv(Path(p), bad_rows, na_tokens) for p in files]
    first = read[0][0].column_names
    for path, (table, _) in zip(files[1:], read[1:]):
        if sorted(table.column_names) != sorted(first):
            missing = sorted(set(first) - set(table.column_names))
            extra = sorted(set(table.column_names) - set(first))
            raise DataError(f"{path}: columns differ from {Path(files[0]).name} (missing {missing}, extra {extra})")
    tables = [table.select(first) for table, _ in read]
    types = {name: {t.schema.field(name).type for t in tables} for name in first}
    if any(len(kinds) > 1 and kinds != {pa.int64(), pa.float64()} for kinds in types.values()):
        return None
    if len(tables) > 1:
        schema = pa.schema([(n, pa.float64() if len(types[n]) > 1 else next(iter(types[n]))) for n in first])
        tables = [pa.concat_tables([t.cast(schema) for t in tables])]
    dropped = {reason: sum(d[reason] for _, d in read) for reason in read[0][1]}
    return ArrowRows(tables[0], dropped)


def _read_arrow_csv(path: Path, bad_rows: str, na_tokens: frozenset[str]) -> tuple[Any, dict[str, int]]:
    import pyarrow as pa

    if bad_rows not in BAD_ROWS:
        raise DataError(f"bad_rows must be one of {list(BAD_ROWS)}, got {bad_rows!r}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    dropped = {"too_few_fields": 0, "too_many_fields": 0}
    source: Any = path
    try:
        table = _arrow_csv(source, path, na_tokens)
    except _RaggedRecord:
        # the rare case: csv.reader names the line (refuse) or keeps the good records (drop), as read_table does
        kept, dropped = _checked_csv(path, bad_rows)
        if kept == path:  # csv.reader finds no ragged record where pyarrow did
            raise DataError(f"{path}: malformed CSV: a record's field count differs from the header's") from None
        source = io.BytesIO(kept.getvalue().encode("utf-8"))
        table = _arrow_csv(source, path, na_tokens)
    raw_names = table.column_names
    names = [name.lstrip() for name in raw_names]  # skipinitialspace, as read_table reads
    _refuse_repeated_names(path, names)
    if table.num_rows == 0:
        raise DataError(f"{path}: has a header but no rows")
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        raise DataError(f"{path}: {_first_undecodable(path)}")
    temporal = [f.name for f in table.schema if pa.types.is_temporal(f.type)]
    if temporal:  # pandas reads dates and times as text: read those columns again, as text
        if isinstance(source, io.BytesIO):
            source.seek(0)
        text = _arrow_csv(source, path, na_tokens, as_text=temporal)
        table = pa.table({name: text.column(name) if name in temporal else table.column(name) for name in raw_names})
    return _as_read_csv_types(table.rename_columns(names)), dropped


def _arrow_csv(source: Any, path: Path, na_tokens: frozenset[str], as_text: list[str] | None = None):
    """pyarrow.csv.read_csv with pandas.read_csv's missing-value tokens and booleans, stopped by a ragged
    record (_RaggedRecord). `as_text`: only these columns, as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ragged_records: list = []

    def ragged(row: Any) -> str:  # an exception raised here would be swallowed: pyarrow's error is recognised below
        ragged_records.append(row)
        return "error"

    convert = pacsv.ConvertOptions(
        null_values=sorted(na_tokens), true_values=["True", "TRUE", "true"], false_values=["False", "FALSE", "false"],
        strings_can_be_null=False, column_types={n: pa.string() for n in as_text or ()}, include_columns=as_text or (),
    )
    try:
        return pacsv.read_csv(source, read_options=pacsv.ReadOptions(block_size=ARROW_BLOCK),
                              parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=ragged),
                              convert_options=convert)
    except pa.ArrowInvalid as exc:
        if ragged_records:
            raise _RaggedRecord() from None
        if "Empty CSV file" in str(exc):
            raise DataError(f"{path}: no header and no rows") from None
        raise DataError(f"{path}: malformed CSV: {exc}") from None


def _as_read_csv_types(table: Any) -> Any:
    """pandas.read_csv's types: integers with gaps and columns without values are float64; booleans with gaps
    are object columns, whose text cleaning reads ("True"/"False")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_null(field.type) or (pa.types.is_integer(field.type) and column.null_count):
            column = column.cast(pa.float64())
        elif pa.types.is_boolean(field.type) and column.null_count:
            column = pc.if_else(column, "True", "False")
        columns.append(column)
    return pa.table(columns, names=table.column_names)
