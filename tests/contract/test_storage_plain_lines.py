"""The numpy field count for plain CSV files (no quotes, CRs or NULs) agrees with csv.reader's."""

import csv
import random

import pytest

from common import storage
from common.errors import DataError


def counted_by_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next((record for record in reader if record), None)
        return header is None or set(map(len, reader)) <= {0, len(header)}


def test_plain_field_counts_agree_with_csv_reader_across_block_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "PLAIN_BLOCK", 7)  # lines cross blocks
    rng = random.Random(11)
    for number in range(1500):
        lines = []
        for _ in range(rng.randint(0, 6)):
            width = rng.choice([0, 1, 2, 3, 3, 3, 4])
            lines.append(",".join(rng.choice(["a", "", "1", " b", "x y", "é"]) for _ in range(width))
                         if width else rng.choice(["", " "]))
        header = rng.choice(['h1,"h2",h3', '"a","b"', "a", "x,y"])
        text = "\n".join([header, *lines]) + rng.choice(["", "\n", "\n\n"])
        path = tmp_path / f"{number}.csv"
        path.write_text(text, encoding="utf-8")
        assert storage._plain_lines_fit(path) == counted_by_csv(path), repr(text)


@pytest.mark.parametrize("text", [
    'a,b\n1,"quoted, comma"\n', "a,b\n1,carriage\r\n", "a,b\n1,nul\x00\n", '"a\nb",c\n1,2\n', "\na,b\n1,2\n",
])
def test_files_that_are_not_plain_are_left_to_csv_reader(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    assert storage._plain_lines_fit(path) is None


def test_a_quoted_header_is_parsed_as_csv_reader_does(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('"a,b",c\n1,2\n', encoding="utf-8")
    assert storage._plain_lines_fit(path) is True
    path.write_text('"x","x"\n1,2\n', encoding="utf-8")
    with pytest.raises(DataError, match="appear more than once"):
        storage._plain_lines_fit(path)


def test_a_ragged_plain_row_is_still_named_or_dropped(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,p\n\n3,4\n5,6,q,7\n8,9,p\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 4: 2 fields, expected 3"):
        storage.read_table(path)
    frame = storage.read_table(path, bad_rows="drop")
    assert len(frame) == 2 and frame.attrs["dropped_rows"] == {"too_few_fields": 1, "too_many_fields": 1}


def test_a_plain_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,y\n1,p\n2,\xff\n")
    with pytest.raises(DataError, match="not UTF-8 text"):
        storage.read_table(path)
