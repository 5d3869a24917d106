"""Reading inputs with errors that name the file, and writing outputs atomically.

pandas is imported where tables are read or written, so that light importers (the pipeline spec)
do not pay for it.

Every output is written under a temporary name in the same directory and renamed into
place, so the next step (or S3 upload) never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import pandas as pd

from .errors import ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


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


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


def write_table(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


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


def read_table(path: Path) -> pd.DataFrame:
    """One file, as strings-as-read; errors name the file."""
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, encoding="utf-8", skipinitialspace=True)
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
    if df.empty:
        raise DataError(f"{path}: has a header but no rows")
    return df


def _first_undecodable(path: Path) -> str:
    """Where the file stops being UTF-8 (pandas reports offsets within a chunk, not the file)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"not UTF-8 text (byte {data[exc.start]:#x} at offset {exc.start}, line {line}); save it as UTF-8"
    return "not UTF-8 text"


def read_tables(source: Path | list[Path]) -> pd.DataFrame:
    """All table files below a directory (or the files given), concatenated; their columns must agree."""
    import pandas as pd

    files = table_files(source) if isinstance(source, Path) else list(source)
    frames = [read_table(p) for p in files]
    first = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:]):
        if sorted(frame.columns) != sorted(first):
            missing = sorted(set(first) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(first))
            raise DataError(f"{path}: columns differ from {files[0].name} (missing {missing}, extra {extra})")
    return pd.concat([f[first] for f in frames], ignore_index=True)


def sha256_frame(df: pd.DataFrame) -> str:
    """A content hash of a table, independent of file format: identifies the training data."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest = hashlib.sha256(",".join(map(str, df.columns)).encode())
    digest.update(hashed.tobytes())
    return digest.hexdigest()
