"""clean's Arrow path (cleaning.read -> cleaning_arrow) against the pandas path (read_tables -> cleaning.clean):
the same rows, order, dtypes, report and Parquet file, or the same error, on real and generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.text_data import generate
from bench.volume_bench import build_csv
from common.errors import DataError
from common.storage import ArrowRows, read_tables, sha256_file, write_table
from tasks.classifier import channels, cleaning, synthetic
from tests.conftest import DATA

REVIEWS = DATA.parent / "reviews.csv"


def both(files: list[Path], target: str, bad_rows: str = "refuse", **declared):
    """(pandas frame, report), (arrow frame, report, CleanedTable); asserts the Arrow reader took the files."""
    old, old_report = cleaning.clean(read_tables(files, bad_rows), target, **declared)
    rows = cleaning.read(files, bad_rows)
    assert isinstance(rows, ArrowRows)
    new, new_report = cleaning.clean(rows, target, **declared)
    return (old, old_report), (cleaning.frame(new), new_report, new)


def assert_same(files: list[Path], target: str, tmp_path: Path, bad_rows: str = "refuse", **declared) -> pd.DataFrame:
    (old, old_report), (frame, new_report, table) = both(files, target, bad_rows, **declared)
    pd.testing.assert_frame_equal(frame, old, check_exact=True)
    assert [str(t) for t in frame.dtypes] == [str(t) for t in old.dtypes]
    assert frame.attrs == old.attrs
    assert new_report == old_report
    write_table(old, tmp_path / "old.parquet")
    channels.write_cleaned(tmp_path / "new", "algo-1", table, {}, {})
    assert pd.read_parquet(tmp_path / "new" / "cleaned-algo-1.parquet").equals(pd.read_parquet(tmp_path / "old.parquet"))
    if table.table.column(0).num_chunks == 1:  # one chunk, as DataFrame.to_parquet writes: the same bytes
        assert sha256_file(tmp_path / "new" / "cleaned-algo-1.parquet") == sha256_file(tmp_path / "old.parquet")
    return old


def write(tmp_path: Path, text: str, name: str = "raw.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("path, target", [(DATA, "Class"), (REVIEWS, "returned")])
def test_the_repository_data_cleans_to_the_same_rows_report_and_bytes(path, target, tmp_path):
    assert_same([path], target, tmp_path)


def test_generated_volume_and_text_data_clean_the_same(tmp_path):
    build_csv(tmp_path / "volume.csv", 30_000, seed=3)
    assert_same([tmp_path / "volume.csv"], "Class", tmp_path)
    generate(rows=2000, seed=5).to_csv(tmp_path / "reviews.csv", index=False)
    assert_same([tmp_path / "reviews.csv"], "returned", tmp_path)
    synthetic.wide(rows=3000, columns=40, seed=2).to_csv(tmp_path / "wide.csv", index=False)
    assert_same([tmp_path / "wide.csv"], "y", tmp_path)


EDGES = {
    "whitespace and tokens": "id, a ,b,y\n1, 3 ,  x ,a\n2,NA,None,b\n3, <NA> ,n/a,a\n4,4,\u2003y\u2003,b\n5,,null,\n6,7,NaN,a\n",
    "quoted commas and newlines": 'id,t,y\n1,"a, b",p\n2,"two\nlines",q\n3,"say ""hi""",p\n4,plain,q\n',
    "booleans with and without gaps": "id,f,g,y\n1,True,true,a\n2,False,,b\n3,TRUE,false,a\n4,false,True,b\n",
    "dates and times stay text": "id,d,t,s,y\n1,2024-01-02,12:00:00,2024-01-02 03:04:05,a\n2,2023-12-31,13:30:00,2024-02-02 00:00:00,b\n",
    "empty and all-missing columns": "id,e,n,y\n1,,NA,a\n2,,,b\n3,,nan,a\n",
    "integers with gaps become floats": "id,i,y\n1,10,a\n2,,b\n3,-4,a\n",
    "a few strays are counted": "id,v,y\n" + "".join(f"{i},{'oops' if i == 7 else i * 1.5},{'ab'[i % 2]}\n" for i in range(60)),
    "mostly words stay categories": "id,v,y\n" + "".join(f"{i},{'w' + str(i % 4) if i % 5 else i},{'ab'[i % 2]}\n" for i in range(60)),
    "duplicates with gaps, NaN tokens and signed zeros": (
        "id,x,z,s,y\n1,0.0,,u,a\n1,-0.0,NA,u,a\n2,1.5,2, v ,b\n2,1.5,2,v,b\n3,,,NA,\n3,,,NA,\n4,1e3,5,w,a\n4,1000,5,w,a\n"
    ),
    "a numeric target": "id,x,y\n1,a,1.5\n2,b,\n3,a,2.5\n3,a,2.5\n",
    "a header with spaces and a byte order mark": "\ufeffid,  name,y\n1,  a,p\n2,b  ,q\n",
    "blank lines": "id,x,y\n\n1,2,a\n\n2,3,b\n",
    "unicode text": "id,x,y\n1,héllo wörld,a\n2,日本,b\n3, ünïcode ,a\n",
    "big integers": "id,x,y\n1,99999999999999999999,a\n2,1,b\n",
}


@pytest.mark.parametrize("text", EDGES.values(), ids=EDGES.keys())
def test_edge_cases_clean_the_same(text, tmp_path):
    assert_same([write(tmp_path, text)], "y", tmp_path)


def test_declared_columns_are_made_so_the_same_way(tmp_path):
    path = write(tmp_path, "id,n,c,f,b,y\n1, 3 ,7,2.0,True,a\n2,4.5,8,3.5,False,b\n3,,9,,True,a\n")
    assert_same([path], "y", tmp_path, numeric={"n", "c"}, categorical={"f", "b", "id"})


@pytest.mark.parametrize("text, declared", [
    ("id,v,y\n" + "".join(f"{i},{'x' if i % 20 == 0 else i},a\n" for i in range(60)), {}),  # ambiguous strays
    ("id,v,y\n1,2,a\n2,two,b\n", {"numeric": {"v"}}),  # a declared number that is not one
    ("id,v,y\n1,2,a\n", {"numeric": {"nope"}}),
])
def test_the_same_errors(text, declared, tmp_path):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as old:
        cleaning.clean(read_tables([path]), "y", **declared)
    with pytest.raises(DataError) as new:
        cleaning.clean(cleaning.read([path], "refuse"), "y", **declared)
    assert str(new.value) == str(old.value)


def test_shards_concatenate_as_pandas_does(tmp_path):
    a = write(tmp_path, "id,x,s,y\n1,1,a,p\n2,2,b,q\n", "a.csv")
    b = write(tmp_path, "s,id,x,y\nc,3,,p\nd,4,2.5,q\na,1,1,p\n", "b.csv")  # other order, gaps make x float
    assert_same([a, b], "y", tmp_path)


def test_shards_whose_types_only_pandas_mixes_fall_back_to_the_pandas_reader(tmp_path):
    a = write(tmp_path, "id,x,y\n1,1,p\n", "a.csv")
    b = write(tmp_path, "id,x,y\n2,word,q\n", "b.csv")
    assert isinstance(cleaning.read([a], "refuse"), ArrowRows)
    assert isinstance(cleaning.read([a, b], "refuse"), pd.DataFrame)


def test_parquet_inputs_keep_the_pandas_reader(tmp_path):
    pd.DataFrame({"id": [1, 2], "y": ["a", "b"]}).to_parquet(tmp_path / "p.parquet")
    assert isinstance(cleaning.read([tmp_path / "p.parquet"], "refuse"), pd.DataFrame)


@pytest.mark.parametrize("content", [
    b"",
    b"a,b\n",
    b"a,b\n1,\xff\xfe\n",
    b"a,b\n1,2\n3,4,5,6\n",
    b"a,b\n1,2\n3\n",
    b'a,b\n1,"x\ny"\n3,4,5\n',
    b"a,a\n1,2\n",
    b" a,a\n1,2\n",
    b"\n\n",
])
def test_unusable_files_get_read_tables_messages(content, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as old:
        read_tables([path])
    with pytest.raises(DataError) as new:
        cleaning.read([path], "refuse")
    assert str(new.value) == str(old.value)


def test_ragged_rows_dropped_by_reason_as_read_tables_drops_them(tmp_path):
    text = 'id,x,y\n1,2,a\n2,3\n3,"4\n5",b\n4,5,a,extra\n5,6,b\n'
    (old, old_report), (frame, new_report, _) = both([write(tmp_path, text)], "y", bad_rows="drop")
    pd.testing.assert_frame_equal(frame, old)
    assert new_report == old_report and new_report["dropped"]["too_few_fields"] == 1


def test_many_rows_with_few_drops_keep_their_order(tmp_path):
    rows = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": rng.integers(0, 500, rows), "x": rng.integers(0, 3, rows).astype(float),
                          "s": rng.choice(["a", "b", " c"], rows), "y": rng.choice(["p", "q", "NA"], rows, p=[.5, .499, .001])})
    frame.to_csv(tmp_path / "many.csv", index=False)
    old = assert_same([tmp_path / "many.csv"], "y", tmp_path)
    assert 0 < len(old) < rows - 1000  # many duplicates and some rows without a target were dropped


def test_rows_written_by_a_thread_are_the_same_file_and_an_unfinished_write_leaves_nothing(tmp_path):
    import gc

    rows = cleaning.read([DATA], "refuse")
    cleaned, report = cleaning.clean(rows, "Class")
    channels.write_cleaned(tmp_path / "direct", "algo-1", cleaned, {}, report)
    pending = channels.start_cleaned_rows(tmp_path / "thread", "algo-1", cleaned)
    channels.write_cleaned(tmp_path / "thread", "algo-1", pending, {}, report)
    assert (sha256_file(tmp_path / "thread" / "cleaned-algo-1.parquet")
            == sha256_file(tmp_path / "direct" / "cleaned-algo-1.parquet"))
    abandoned = channels.start_cleaned_rows(tmp_path / "failed", "algo-1", cleaned)  # the step fails before finishing
    abandoned._done.result()
    del abandoned
    gc.collect()
    assert list((tmp_path / "failed").iterdir()) == []
