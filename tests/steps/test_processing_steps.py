"""clean.py, feature.py and evaluation.py inside a processing job's /opt/ml tree."""

import json
import tarfile

import pandas as pd
import pytest

from localrun.jobs import lay_out
from localrun.runner import LocalSession, StepFailed
from pipeline.spec import FULLY_REPLICATED, SHARDED_BY_S3_KEY
from tests.conftest import DATA
from tests.steps.conftest import job

CLEAN_ARGS = {"target": "Class", "positive_label": "bad", "id_columns": "rownames"}


def run_clean(tmp_path, engine, files: dict[str, bytes], args=CLEAN_ARGS):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, content in files.items():
        (raw / name).write_bytes(content)
    clean = job("clean", {"raw": raw}, args)
    tree = lay_out(clean, tmp_path / "job", "algo-1", engine.code_dir)
    code = engine.run(clean, tree, "algo-1")
    message = tree / "output" / "message"
    return code, (message.read_text() if message.exists() else None), tree / "processing" / "output" / "cleaned"


def test_clean_writes_data_schema_and_report(prepared):
    out = prepared["clean"].outputs["cleaned"]
    assert sorted(p.name for p in out.iterdir()) == ["cleaned-algo-1.parquet", "report-algo-1.json", "schema-algo-1.json"]
    report = json.loads((out / "report-algo-1.json").read_text())
    assert report["rows_in"] == report["rows_out"] == 9857
    schema = json.loads((out / "schema-algo-1.json").read_text())
    assert schema["positive_label"] == "bad" and "rownames" not in schema["numeric"] + schema["categorical"]
    assert schema["class_counts"] == {"good": 9340, "bad": 517}


def test_feature_writes_three_splits_and_the_preprocessor(prepared):
    sizes = {name: len(pd.read_parquet(prepared[name] / f"{name}.parquet")) for name in ("train", "validation", "test")}
    assert sizes == {"train": 6899, "validation": 1479, "test": 1479}
    assert sorted(p.name for p in prepared["preprocessor"].iterdir()) == ["preprocessor.joblib", "schema.json"]


@pytest.mark.parametrize("sharded", [True, False], ids=["ShardedByS3Key", "FullyReplicated"])
def test_clean_shards_across_instances_and_names_files_per_host(tmp_path, engine, lending_club, sharded):
    raw = tmp_path / "raw"
    raw.mkdir()
    for i, part in enumerate((lending_club.iloc[:5000], lending_club.iloc[5000:])):
        part.to_csv(raw / f"part-{i}.csv", index=False)
    session = LocalSession(tmp_path / "run", engine)
    distribution = SHARDED_BY_S3_KEY if sharded else FULLY_REPLICATED
    result = session.run(job("clean", {"raw": raw}, CLEAN_ARGS, instance_count=2, distribution=distribution))
    reports = [json.loads((result.outputs["cleaned"] / f"report-algo-{i}.json").read_text()) for i in (1, 2)]
    assert [r["rows_in"] for r in reports] == [5000, 4857]  # each row cleaned once, either way
    session.run(job("feature", {"cleaned": result.outputs["cleaned"]}, instance_count=2))
    rows = sum(len(pd.read_parquet(p)) for p in session.s3.rglob("feature/*/*.parquet"))
    assert rows == len(lending_club)


CSV_HEADER = DATA.read_text().splitlines()[0]


@pytest.mark.parametrize(
    "files, args, message",
    [
        ({}, CLEAN_ARGS, "no CSV or Parquet files in"),
        ({"a.csv": b""}, CLEAN_ARGS, "a.csv: file is empty (0 bytes)"),
        ({"a.csv": (CSV_HEADER + "\n").encode()}, CLEAN_ARGS, "a.csv: has a header but no rows"),
        ({"a.csv": "x,Class\n1,bad\n2,gut\xe9\n".encode("latin-1")}, {"target": "Class", "positive_label": "bad"},
         "a.csv: not UTF-8 text (byte 0xe9 at offset 19, line 3)"),
        ({"a.csv": b"x,y\n1,bad\n2,good\n"}, CLEAN_ARGS, "target column 'Class' not found"),
        ({"a.csv": b"x,Class\n1,good\n2,good\n"}, {"target": "Class", "positive_label": "bad"},
         "target column 'Class' has 1 class(es) ['good']: a classifier needs two or more"),
        ({"a.csv": b"x,Class\n1,bad\n2,good\n"}, {"target": "Class"},
         "target column 'Class' has two classes ['bad', 'good']: name the positive one"),
    ],
    ids=["empty-dir", "zero-byte", "header-only", "latin-1", "no-target", "one-class", "missing-argument"],
)
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path, engine, files, args, message):
    code, text, out = run_clean(tmp_path, engine, files, args)
    assert code == 2
    assert message in text
    assert list(out.iterdir()) == []


def test_evaluation_writes_model_monitor_json(tmp_path, engine, prepared, model_dir):
    from contract import modeltar

    s3 = tmp_path / "s3"
    modeltar.pack(model_dir, s3 / "model" / "model.tar.gz")
    result = LocalSession(tmp_path, engine).run(job("evaluation", {"model": s3 / "model", "test": prepared["test"]}))
    report = json.loads((result.outputs["evaluation"] / "evaluation.json").read_text())
    auc = report["binary_classification_metrics"]["auc"]
    assert 0.65 < auc["value"] < 0.9 and isinstance(auc["standard_deviation"], float)
    assert report["dataset"]["item_count"] == 1479
    assert set(report["binary_classification_metrics"]["confusion_matrix"]) == {"good", "bad"}


def test_evaluation_names_a_test_split_without_the_target(tmp_path, engine, prepared, model_dir):
    from contract import modeltar

    modeltar.pack(model_dir, tmp_path / "s3" / "model" / "model.tar.gz")
    test = tmp_path / "s3" / "test"
    test.mkdir()
    pd.read_parquet(prepared["test"] / "test.parquet").drop(columns=["Class"]).to_parquet(test / "test.parquet")
    with pytest.raises(StepFailed) as failure:
        LocalSession(tmp_path, engine).run(job("evaluation", {"model": tmp_path / "s3" / "model", "test": test}))
    assert failure.value.code == 2 and "input 'test' has no target column 'Class'" in failure.value.reason


def test_evaluation_refuses_a_model_archive_that_escapes(tmp_path, engine, prepared):
    evil = tmp_path / "s3" / "model"
    evil.mkdir(parents=True)
    with tarfile.open(evil / "model.tar.gz", "w:gz") as tar:
        tar.add(DATA, arcname="../../../outside.csv")
    with pytest.raises(StepFailed) as failure:
        LocalSession(tmp_path, engine).run(job("evaluation", {"model": evil, "test": prepared["test"]}))
    assert failure.value.code == 2 and "would escape" in failure.value.reason
    assert not list(tmp_path.rglob("outside.csv"))
