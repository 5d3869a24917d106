"""Data volume (issue 11): clean.py and feature.py as processes on ROWS rows (default 200,000) keep every
row accounted for and stay within a memory bound proportional to the file. No timing asserts:
bench/volume_bench.py reports the times at 2,000,000 rows beside a pyarrow read."""

import json
import os

import pyarrow.parquet as pq
import pytest

from bench.volume_bench import build_csv, clean_and_feature

pytestmark = pytest.mark.hardening
ROWS = int(os.environ.get("ROWS", "200000"))
# Peak RSS of each step at most a fixed interpreter + libraries share plus a multiple of the CSV's size.
# Measured (bench/README.md): about 160 MB at 20,000 rows, 9.8x the CSV at 2,000,000 rows for clean.py.
BASE_MB, PER_CSV_MB = 400, 14


@pytest.fixture(scope="module")
def volume_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("volume")
    csv_path = work / "raw" / "volume.csv"
    expected = build_csv(csv_path, ROWS)
    session, engine, clean, feature = clean_and_feature(work, csv_path)
    return csv_path, expected, clean, feature


def test_every_row_is_cleaned_or_reported_dropped(volume_run):
    _, expected, (clean, measured), _ = volume_run
    assert measured.exit_code == 0
    (report_file,) = sorted(clean.outputs["cleaned"].glob("report-*.json"))
    report = json.loads(report_file.read_text())
    assert report["rows_in"] == ROWS
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values())
    assert {k: report["dropped"][k] for k in expected} == expected and expected["duplicate"] > 0
    (cleaned,) = sorted(clean.outputs["cleaned"].glob("cleaned-*.parquet"))
    assert pq.read_metadata(cleaned).num_rows == report["rows_out"]


def test_the_splits_hold_every_cleaned_row_once(volume_run):
    _, _, (clean, _), (feature, measured) = volume_run
    assert measured.exit_code == 0
    (report_file,) = sorted(clean.outputs["cleaned"].glob("report-*.json"))
    rows_out = json.loads(report_file.read_text())["rows_out"]
    splits = {name: pq.read_table(next(feature.outputs[name].glob("*.parquet")), columns=["rownames"])
              for name in ("train", "validation", "test")}
    assert sum(t.num_rows for t in splits.values()) == rows_out
    ids = [i for t in splits.values() for i in t.column("rownames").to_pylist()]
    assert len(set(ids)) == rows_out  # duplicates were exact copies, ids included: each id once


@pytest.mark.parametrize("step", ["clean", "feature"])
def test_peak_memory_is_bounded_by_the_file_size(volume_run, step):
    csv_path, _, clean, feature = volume_run
    measured = {"clean": clean, "feature": feature}[step][1]
    bound = BASE_MB + PER_CSV_MB * csv_path.stat().st_size / 1e6
    assert measured.peak_rss_mb < bound, f"{step}.py peaked at {measured.peak_rss_mb:.0f} MB, bound {bound:.0f} MB"
