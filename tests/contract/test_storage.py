import io
import tarfile

import pandas as pd
import pytest

from contract import DataError
from contract import modeltar
from common.storage import atomic_path, read_tables, write_json


def test_atomic_write_leaves_old_file_and_no_temp_when_writing_fails(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"v": 2, "half')
            raise RuntimeError("killed mid-write")
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_outputs_get_ordinary_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    write_json(tmp_path / "out.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o666 & ~umask


def test_reads_csv_and_parquet_shards_together(tmp_path):
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(tmp_path / "part-1.csv", index=False)
    (tmp_path / "sub").mkdir()
    pd.DataFrame({"b": ["z"], "a": [3]}).to_parquet(tmp_path / "sub" / "part-2.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    frame = read_tables(tmp_path)
    assert frame.to_dict("list") == {"a": [1, 2, 3], "b": ["x", "y", "z"]}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty (0 bytes)"),
        (b"a,b\n", "has a header but no rows"),
        (b"a,b\n1,\xff\xfe\n", "not UTF-8 text (byte 0xff at offset 6, line 2)"),
        (b"a,b\n1,2\n3,4,5,6\n", "line 3: 4 fields, expected 2"),
    ],
)
def test_unusable_files_are_named(tmp_path, content, message):
    (tmp_path / "bad.csv").write_bytes(content)
    with pytest.raises(DataError) as error:
        read_tables(tmp_path)
    assert str(tmp_path / "bad.csv") in str(error.value) and message in str(error.value)


def test_empty_directory_and_disagreeing_shards(tmp_path):
    with pytest.raises(DataError, match="no CSV or Parquet files in"):
        read_tables(tmp_path)
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("x,z\n1,2\n")
    with pytest.raises(DataError, match=r"b.csv: columns differ from a.csv \(missing \['y'\], extra \['z'\]\)"):
        read_tables(tmp_path)


def test_model_tar_round_trip(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "metadata.json").write_text("{}")
    (model / "sub" / "w.bin").write_bytes(b"\x00\x01")
    archive = modeltar.pack(model, tmp_path / "s3" / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "sub", "sub/w.bin"]
    out = modeltar.extract(archive, tmp_path / "out")
    assert (out / "sub" / "w.bin").read_bytes() == b"\x00\x01"


def _archive_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"") -> str:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data) if data else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "a/../../escape.txt"])
def test_extract_refuses_path_traversal(tmp_path, name):
    archive = _archive_with(tmp_path, tarfile.TarInfo(name), b"owned")
    with pytest.raises(DataError, match="would escape"):
        modeltar.extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not list((tmp_path / "out").iterdir())


def test_extract_refuses_links(tmp_path):
    link = tarfile.TarInfo("model.joblib")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(DataError, match="is a link or special file"):
        modeltar.extract(_archive_with(tmp_path, link), tmp_path / "out")


def test_extract_names_a_corrupt_archive(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(DataError, match="not a readable tar archive"):
        modeltar.extract(tmp_path / "model.tar.gz", tmp_path / "out")


class Holder:
    def __init__(self, names):
        self.names = names
        self.pairs = [(name, i) for i, name in enumerate(names)]


def test_equal_objects_whose_strings_are_shared_differently_give_equal_bytes():
    """As a model restored from a checkpoint holds its own copies of strings a freshly built one shares."""
    import io

    import joblib
    import numpy as np

    from common.storage import stable_joblib_bytes

    shared = "".join(["feat", "ure"])  # built at run time: not interned
    one = Holder([shared, shared, "".join(["x", "y"])])
    one.array = np.array([shared, "xy"], dtype=object)
    copies = Holder(["".join(["feat", "ure"]) for _ in range(2)] + ["".join(["x", "y"])])
    copies.array = np.array(["".join(["feat", "ure"]), "".join(["x", "y"])], dtype=object)

    def plain(obj):
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        return buffer.getvalue()

    assert plain(one) != plain(copies)  # what made a resumed model's SHA-256 differ
    assert stable_joblib_bytes(one) == stable_joblib_bytes(copies)
    restored = joblib.load(io.BytesIO(stable_joblib_bytes(copies)))
    assert restored.names == one.names and restored.pairs == one.pairs and list(restored.array) == list(one.array)
