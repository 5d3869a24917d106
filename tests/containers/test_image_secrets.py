"""No credentials in the images, and the user each image runs as.

Every layer of both images is read as `docker save` exports it: credential files by name, and
AWS access keys, private keys and secret-key assignments by content (files under 2 MB outside the
installed packages; AWS's documentation keys are allowed). The image config (environment, history) is
checked the same way. (The run logs: test_steps_in_containers; what a serving container runs:
its serving test.)
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import PurePosixPath

import pytest

pytestmark = pytest.mark.container

CREDENTIAL_FILES = {".netrc", ".git-credentials", ".pypirc", "credentials", "id_rsa", "id_ecdsa", "id_ed25519"}
CREDENTIAL_PATHS = (".aws/credentials", ".aws/config", ".docker/config.json", "pip/pip.conf", "etc/pip.conf")
SECRET_CONTENT = re.compile(
    rb"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"  # an AWS access key id
    rb"|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"
    rb"|aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}"
)
SCANNED_BYTES = 2 << 20
# Installed packages (hash-locked wheels, Debian packages) are checked by name only: their content
# is the published one, and reading all of it would cost minutes. Everything else is read.
PACKAGE_DIRS = ("opt/venv/lib/", "usr/lib/", "usr/share/", "usr/local/lib/")


class ChunkStream(io.RawIOBase):
    """The chunks of `docker save` as a file, read once front to back (tarfile's stream mode)."""

    def __init__(self, chunks):
        self._chunks, self._chunk, self._at = iter(chunks), memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._at >= len(self._chunk):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._chunk, self._at = memoryview(chunk), 0
        n = min(len(buffer), len(self._chunk) - self._at)
        buffer[:n] = self._chunk[self._at:self._at + n]
        self._at += n
        return n


def findings_in(name: str, data: bytes) -> list[str]:
    return [f"{name}: {m.group()[:24]!r}..." for m in SECRET_CONTENT.finditer(data) if not m.group().endswith(b"EXAMPLE")]  # AWS's documentation keys


def scan_layer(layer: tarfile.TarFile, scanned: dict) -> list[str]:
    found = []
    for member in layer:
        path = PurePosixPath(member.name)
        if path.name in CREDENTIAL_FILES and not member.isdir() or str(path).endswith(CREDENTIAL_PATHS):
            found.append(f"credential file {member.name}")
        if member.isfile() and 0 < member.size <= SCANNED_BYTES and not member.name.startswith(PACKAGE_DIRS):
            found += findings_in(member.name, layer.extractfile(member).read())
            scanned["files"] += 1
    return found


def scan_image(engine, name: str) -> tuple[list[str], dict]:
    image = engine.images.get(name)
    scanned = {"layers": 0, "files": 0}
    found = findings_in("config", repr(image.attrs["Config"]).encode())
    for step in image.history():
        found += findings_in(f"history {step.get('CreatedBy', '')[:60]}", step.get("CreatedBy", "").encode())
    with tarfile.open(fileobj=io.BufferedReader(ChunkStream(image.save()), 1 << 20), mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            handle = archive.extractfile(member)
            head = handle.peek(262)[:262] if hasattr(handle, "peek") else b""
            if member.name.endswith("layer.tar") or head[257:262] == b"ustar":
                scanned["layers"] += 1
                with tarfile.open(fileobj=handle, mode="r|") as layer:
                    found += scan_layer(layer, scanned)
    return found, scanned


@pytest.mark.parametrize("which", ["train_image", "process_image"])
def test_no_credentials_in_any_layer_or_the_config(which, request, engine):
    found, scanned = scan_image(engine, request.getfixturevalue(which))
    assert scanned["layers"] >= 2 and scanned["files"] > 100, scanned
    assert not found, found


def test_the_scan_finds_a_planted_key():
    """The patterns are live: a key of the real shape, a private key and a credentials file are all reported."""
    planted = io.BytesIO()
    with tarfile.open(fileobj=planted, mode="w") as layer:
        for name, data in [("root/.aws/credentials", b"[default]\n"), ("app/settings.py", b"KEY='AKIAQWERTYUIOPASDFGH'\n"),
                           ("app/key.pem", b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"),
                           ("app/doc.txt", b"as in AKIAIOSFODNN7EXAMPLE\n"),
                           ("opt/venv/lib/python3.11/site-packages/pkg/data.json", b"AKIAQWERTYUIOPASDFGH")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            layer.addfile(info, io.BytesIO(data))
    planted.seek(0)
    scanned = {"files": 0}
    with tarfile.open(fileobj=planted, mode="r|") as layer:
        found = scan_layer(layer, scanned)
    assert len(found) == 3 and scanned["files"] == 4, found  # the installed package is not read
    assert not any("doc.txt" in f or "site-packages" in f for f in found)


@pytest.mark.parametrize("which", ["train_image", "process_image"])
def test_images_run_as_root_as_sagemaker_starts_them(which, request, engine, run_in):
    """Root, on purpose: SageMaker mounts /opt/ml (model, output, checkpoints) owned by root and
    starts the container as its image says; a non-root user could not write the model or the
    failure file there. The README says so."""
    image = engine.images.get(request.getfixturevalue(which))
    assert image.attrs["Config"].get("User", "") in ("", "root", "0")
    code, output = run_in(request.getfixturevalue(which), ["id", "-u"], entrypoint=[])
    assert code == 0 and output.strip() == "0"

