"""model.tar.gz by URL: fetch it (s3://, file:// or a plain path) and check it against its registered SHA-256.

A package's artifact is trusted only after its bytes hash to the value recorded at registration:
nothing is unpacked or unpickled before that.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from common.errors import DataError
from common.storage import sha256_file


class ArtifactMismatch(DataError):
    """An artifact whose bytes differ from what the registry recorded."""


def local_path(url: str) -> Path | None:
    """The file a file:// URL or a plain path names; None for a remote URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("", "local") or len(parsed.scheme) == 1:  # "C:\..." has a one-letter scheme
        return Path(url)
    return None


def to_url(path: Path) -> str:
    return Path(path).resolve().as_uri()


def fetch(url: str, destination: Path, s3_client=None) -> Path:
    """The artifact at `url` as a local file: a local one is used in place, an S3 object downloaded."""
    path = local_path(url)
    if path is not None:
        if not path.is_file():
            raise DataError(f"model artifact {url}: no such file")
        return path
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise DataError(f"model artifact {url}: unsupported URL scheme '{parsed.scheme}' (use s3://, file:// or a path)")
    if s3_client is None:
        raise DataError(f"model artifact {url}: an S3 client is needed to fetch it")
    from botocore.exceptions import ClientError

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        s3_client.download_file(parsed.netloc, parsed.path.lstrip("/"), str(destination))
    except ClientError as exc:
        raise DataError(f"model artifact {url}: cannot download ({exc})") from None
    return destination


def verify(path: Path, expected_sha256: str | None, owner: str) -> str:
    """The file's SHA-256, after checking it equals the registered one; `owner` names the package."""
    if not expected_sha256:
        raise ArtifactMismatch(f"{owner}: no artifact-sha256 in its CustomerMetadataProperties; refusing to trust it")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ArtifactMismatch(
            f"{owner}: model artifact SHA-256 {actual} does not match the registered {expected_sha256}: "
            f"altered or corrupt; reject the package with `python -m registry reject {owner} --reason ...`"
        )
    return actual


def fetch_verified(url: str, expected_sha256: str | None, owner: str, workdir: Path, s3_client=None) -> Path:
    path = fetch(url, Path(workdir) / "model.tar.gz", s3_client)
    verify(path, expected_sha256, owner)
    return path

