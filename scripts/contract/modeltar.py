"""model.tar.gz, as SageMaker packs `/opt/ml/model` and hands it to later steps.

Extraction refuses anything that could escape the target directory or is not a plain
file or directory (links, devices), instead of trusting the archive.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import zlib
from pathlib import Path

from common.errors import DataError
from common.storage import atomic_path


def pack(model_dir: Path, tar_path: Path) -> Path:
    """Every file under model_dir at the archive root, as SageMaker uploads it.

    Reproducible: sorted members, fixed times, owners and modes, and a gzip header without a
    name or time, so the same model files always give the same bytes (and SHA-256).
    """
    with atomic_path(tar_path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for path in sorted(Path(model_dir).rglob("*")):
                    info = archive.gettarinfo(str(path), arcname=str(path.relative_to(model_dir)))
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                    info.mode = 0o755 if info.isdir() else 0o644
                    if info.isfile():
                        with open(path, "rb") as handle:
                            archive.addfile(info, handle)
                    else:
                        archive.addfile(info)
    return tar_path


def extract(tar_path: Path, destination: Path) -> Path:
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    try:
        with tarfile.open(tar_path, "r:*") as archive:
            members = archive.getmembers()
            for member in members:
                target = (root / member.name).resolve()
                if not (member.isfile() or member.isdir()):
                    raise DataError(f"{tar_path}: member '{member.name}' is a link or special file; refusing to extract")
                if os.path.isabs(member.name) or (target != root and root not in target.parents):
                    raise DataError(f"{tar_path}: member '{member.name}' would escape {destination}; refusing to extract")
            # the checks above are the guard; the "data" filter (Python >= 3.11.4) is a second one
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(destination, members=members, **safe)
    except tarfile.TarError as exc:
        raise DataError(f"{tar_path}: not a readable tar archive ({exc})") from None
    except (EOFError, zlib.error, OSError) as exc:  # gzip cut short or damaged (OSError: BadGzipFile, CRC)
        if isinstance(exc, OSError) and not isinstance(exc, tarfile.ReadError) and exc.errno is not None:
            raise  # a real I/O fault (disk, permissions) is the environment's, not the archive's
        raise DataError(
            f"{tar_path}: truncated or corrupt archive ({type(exc).__name__}: {exc or 'ended early'}); "
            "upload the training job's model.tar.gz again"
        ) from None
    return destination


def find_model_archive(directory: Path) -> Path:
    candidates = sorted(Path(directory).rglob("model.tar.gz"))
    if len(candidates) != 1:
        raise DataError(f"expected one model.tar.gz in {directory}, found {len(candidates)}")
    return candidates[0]
