"""Hardening (issue 11, items 11 and 12, and the injected write error): checkpoints that fail."""

import pickle
import shutil
import subprocess
import sys

import pytest

from common.errors import ConfigError
from contract.checkpoints import CheckpointStore
from tests.conftest import REPO


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    store = CheckpointStore(tmp_path, "fp")
    store.save(1, {"trees": 10})
    newest = store.save(2, {"trees": 20})
    newest.write_bytes(newest.read_bytes()[:50])  # cut short, as a failed sync could leave it
    assert store.latest() == (1, {"trees": 10})
    assert "checkpoint-000002.joblib is unreadable" in capsys.readouterr().err


def test_only_unreadable_checkpoints_fail_naming_them(tmp_path):
    store = CheckpointStore(tmp_path, "fp")
    store.save(1, {"trees": 10}).write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="no readable checkpoint in .*checkpoint-000001.joblib"):
        store.latest()


def test_a_checkpoint_from_another_run_is_still_refused(tmp_path):
    CheckpointStore(tmp_path, "other").save(1, {})
    with pytest.raises(ConfigError, match="belongs to a run with other data or parameters"):
        CheckpointStore(tmp_path, "fp").latest()


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path, "fp")
    store.save(1, {"trees": 10})
    store.save(2, {"trees": 20})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_dump = pickle.dump

    def failing_dump(value, file, *args, **kwargs):  # half a file, then the disk is full
        real_dump(value, file, *args, **kwargs)
        file.flush()
        file.truncate(20)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pickle, "dump", failing_dump)
    with pytest.raises(OSError, match="No space left"):
        store.save(3, {"trees": 30})
    monkeypatch.setattr(pickle, "dump", real_dump)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left, nothing changed
    assert store.latest() == (2, {"trees": 20})


def test_a_read_only_checkpoint_directory_is_a_configuration_error_at_start(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    code = ("import sys; sys.path.insert(0, 'scripts')\n"
            "from contract.checkpoints import CheckpointStore\n"
            "from common.errors import ConfigError\n"
            f"try:\n    CheckpointStore({str(directory)!r}, 'fp').latest()\n"
            "except ConfigError as exc:\n    print('ConfigError:', exc); sys.exit(2)\n")
    # a real read-only file system (root would write through a mode of 0555): a read-only bind
    # mount in a private mount namespace, which an unprivileged user namespace allows
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("no user and mount namespaces here to make a read-only file system")
    script = f'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3"'
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(directory), sys.executable, code],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"checkpoint directory {directory} is not writable (Read-only file system)" in result.stdout
