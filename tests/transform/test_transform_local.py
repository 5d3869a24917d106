"""The local Batch Transform runner on the real default data: one pipeline run gives the model, the
endpoint it deployed, and the test split; the transform's .out lines must equal what the endpoint and
the model in process say for the same rows, line for line."""

from __future__ import annotations

import json
from dataclasses import replace
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from localrun import transform
from localrun.transform import TransformJob, raise_for_failures, run_transform

REPO = Path(__file__).resolve().parents[2]
LIGHT = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}  # a Model Environment entry: two workers on a shared machine


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(work dir, model.tar.gz, the default model resolution, test rows as headerless CSV, endpoint lines)."""
    work = tmp_path_factory.mktemp("transform-run")
    run = subprocess.run([sys.executable, "-m", "localrun", "--work-dir", str(work)], cwd=REPO,
                         capture_output=True, text=True, timeout=1800)
    plane = work / "controlplane"
    try:
        assert run.returncode == 0, run.stderr[-3000:]
        summary = json.loads((work / "latest" / "summary.json").read_text())
        resolved = transform.default_model(work)  # while the endpoint's control plane answers
        from contract import modeltar
        from tasks.classifier import artifact

        model = artifact.load(modeltar.extract(Path(summary["outputs"]["model"]), work / "model"))
        test = pd.read_parquet(Path(summary["outputs"]["test"]) / "test.parquet")
        rows = test[list(model.schema.features)]
        csv = rows.to_csv(index=False, header=False)
        request = urllib.request.Request(summary["deployment"]["url"], data=csv.encode(), method="POST",
                                         headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        with urllib.request.urlopen(request, timeout=120) as response:
            endpoint_lines = response.read().decode().splitlines()
    finally:
        subprocess.run([sys.executable, "-m", "localrun.controlplane", "stop", "--state-dir", str(plane)],
                       cwd=REPO, capture_output=True, timeout=120)
    yield {"work": work, "summary": summary, "model": model, "model_tar": Path(summary["outputs"]["model"]),
           "resolved": resolved, "rows": rows, "csv": csv, "endpoint_lines": endpoint_lines}


def _job(deployed, data: Path, output: Path, **settings) -> TransformJob:
    return TransformJob(data=data, output=output, model_tar=deployed["model_tar"], environment=dict(LIGHT), **settings)


def _in_process(deployed, rows: pd.DataFrame) -> list[tuple[float, str]]:
    model = deployed["model"]
    proba = model.predict_proba(rows)
    return list(zip(proba.tolist(), [str(label) for label in model.label(proba)]))


def _parsed(lines: list[str]) -> list[tuple[float, str]]:
    return [(float(p), label) for p, label in (line.rsplit(",", 1) for line in lines)]


def test_default_model_is_the_endpoints_package(deployed):
    path, source, package = deployed["resolved"]
    assert path.resolve() == deployed["model_tar"].resolve()
    assert "package" in source and "classifier/1" in source and package.endswith("model-package/classifier/1")


def test_out_lines_equal_endpoint_and_in_process_scores(deployed, tmp_path):
    data = tmp_path / "in" / "test.csv"
    data.parent.mkdir()
    data.write_text(deployed["csv"])
    result = raise_for_failures(run_transform(_job(deployed, data, tmp_path / "out"), tmp_path / "job"))
    lines = (tmp_path / "out" / "test.csv.out").read_text().splitlines()
    assert len(lines) == len(deployed["rows"]) == result.records
    assert lines == deployed["endpoint_lines"]  # the real-time endpoint, byte for byte
    assert _parsed(lines) == _in_process(deployed, deployed["rows"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "Completed" and manifest["records_scored"] == len(lines)
    params = result.parameters["algo-1"]
    assert params["BatchStrategy"] in ("MultiRecord", "SingleRecord")
    assert params["MaxPayloadInMBSource"] in ("container", "default")


def test_order_kept_with_concurrent_requests(deployed, tmp_path):
    """Many mini-batches (30 copies of the test rows over a 1 MB limit) and single records, 3 and 4 in flight."""
    rows = pd.concat([deployed["rows"]] * 30, ignore_index=True)
    rows["annual_inc"] = rows["annual_inc"] + rows.index % 977  # every row distinct, so a swap would show
    big = tmp_path / "in" / "big.csv"
    big.parent.mkdir()
    rows.to_csv(big, index=False, header=False)
    assert big.stat().st_size > 3 * 1024 * 1024
    result = raise_for_failures(run_transform(
        _job(deployed, big, tmp_path / "multi", max_payload_mb=1, max_concurrent_transforms=3), tmp_path / "j1"))
    assert result.objects[0].requests >= 4
    lines = (tmp_path / "multi" / "big.csv.out").read_text().splitlines()
    assert _parsed(lines) == _in_process(deployed, rows)

    small = tmp_path / "single" / "few.csv"
    small.parent.mkdir()
    deployed["rows"].head(200).to_csv(small, index=False, header=False)
    result = raise_for_failures(run_transform(
        _job(deployed, small, tmp_path / "single-out", batch_strategy="SingleRecord", max_concurrent_transforms=4),
        tmp_path / "j2"))
    assert result.objects[0].requests == 200
    lines = (tmp_path / "single-out" / "few.csv.out").read_text().splitlines()
    assert lines == deployed["endpoint_lines"][:200]


def test_sub_paths_kept(deployed, tmp_path):
    data = tmp_path / "in"
    (data / "2026" / "11").mkdir(parents=True)
    rows = deployed["rows"]
    rows.iloc[:10].to_csv(data / "top.csv", index=False, header=False)
    rows.iloc[10:35].to_csv(data / "2026" / "11" / "part-0.csv", index=False, header=False)
    raise_for_failures(run_transform(_job(deployed, data, tmp_path / "out"), tmp_path / "job"))
    outs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.out"))
    assert outs == ["2026/11/part-0.csv.out", "top.csv.out"]
    assert (tmp_path / "out" / "2026" / "11" / "part-0.csv.out").read_text().splitlines() == \
        deployed["endpoint_lines"][10:35]


def test_bad_object_fails_by_name_and_writes_no_out(deployed, tmp_path, capsys):
    data = tmp_path / "in"
    data.mkdir()
    rows = deployed["rows"]
    rows.iloc[:20].to_csv(data / "good.csv", index=False, header=False)
    bad = rows.iloc[:20].astype(object).copy()
    bad.iloc[7, bad.columns.get_loc("funded_amnt")] = "lots"
    bad.to_csv(data / "bad.csv", index=False, header=False)
    out = tmp_path / "out"
    code = transform.main(["--data", str(data), "--model", str(deployed["model_tar"]), "--output", str(out),
                           "--work-dir", str(tmp_path / "work"), "--env", "SAGEMAKER_MODEL_SERVER_WORKERS=1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "bad.csv" in err and "funded_amnt" in err  # the object's name and the server's message
    assert not (out / "bad.csv.out").exists()
    assert not list(out.glob(".*partial"))
    assert (out / "good.csv.out").read_text().splitlines() == deployed["endpoint_lines"][:20]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "Failed"
    with pytest.raises(transform.TransformFailed, match="bad.csv"):
        raise_for_failures(run_transform(_job(deployed, data, tmp_path / "again"), tmp_path / "job2"))


def test_header_line_is_a_record_and_fails_the_object(deployed, tmp_path):
    """No header-skip exists on the platform: the header goes to the server as the first record, and the
    object fails with a message that says to strip it (never an output shifted by one line)."""
    data = tmp_path / "with-header.csv"
    deployed["rows"].head(30).to_csv(data, index=False, header=True)
    result = run_transform(_job(deployed, data, tmp_path / "out"), tmp_path / "job")
    assert [o.key for o in result.failed] == ["with-header.csv"]
    assert "header" in result.failed[0].error.lower()
    assert not (tmp_path / "out" / "with-header.csv.out").exists()


def test_two_instances_split_objects_disjointly_and_completely(deployed, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    keys = [f"part-{i}.csv" for i in range(5)]
    for i, key in enumerate(keys):
        deployed["rows"].iloc[i * 7:(i + 1) * 7].to_csv(data / key, index=False, header=False)
    result = raise_for_failures(run_transform(_job(deployed, data, tmp_path / "out", instances=2), tmp_path / "job"))
    by_host: dict[str, set[str]] = {}
    for o in result.objects:
        by_host.setdefault(o.instance, set()).add(o.key)
    assert set(by_host) == {"algo-1", "algo-2"} == set(result.parameters)
    assert by_host["algo-1"].isdisjoint(by_host["algo-2"])
    assert by_host["algo-1"] | by_host["algo-2"] == set(keys)
    for host in by_host:  # each instance ran its own server, in its own /opt/ml tree
        assert (tmp_path / "job" / "instances" / host / "model").is_dir()
    for i, key in enumerate(keys):
        assert (tmp_path / "out" / f"{key}.out").read_text().splitlines() == \
            deployed["endpoint_lines"][i * 7:(i + 1) * 7]


def test_split_none_sends_each_object_whole(deployed, tmp_path):
    """SplitType=None: one request per object; AssembleWith=Line appends one newline after its answer, as
    the platform does (the batch server leaves out its last newline for that reason)."""
    data = tmp_path / "in"
    data.mkdir()
    deployed["rows"].head(40).to_csv(data / "whole.csv", index=False, header=False)
    result = raise_for_failures(run_transform(_job(deployed, data, tmp_path / "out", split_type="None"),
                                              tmp_path / "job"))
    assert result.objects[0].requests == 1
    text = (tmp_path / "out" / "whole.csv.out").read_text()
    assert text.endswith("\n") and text.splitlines() == deployed["endpoint_lines"][:40]


def test_the_runs_transform_step_scores_its_test_split_like_the_endpoint(deployed):
    """make run's transform step (after register): the feature step's batch file (target first), InputFilter
    $[1:], joined and filtered to target, probability, label; line N of the .out is line N of the test split."""
    out = Path(deployed["summary"]["outputs"]["transform"])
    assert out.name == "test.csv.out"
    target = deployed["model"].schema.target
    test = pd.read_parquet(Path(deployed["summary"]["outputs"]["test"]) / "test.parquet")
    expected = [f"{label},{line}" for label, line in zip(test[target].astype(str), deployed["endpoint_lines"])]
    assert out.read_text().splitlines() == expected
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert manifest["records_scored"] == len(expected) and manifest["status"] == "Completed"
    assert manifest["model_package"].endswith("model-package/classifier/1")
    assert manifest["model_tar_sha256"] == deployed["summary"]["model_sha256"]


def test_make_transform_finds_the_approved_package_with_the_control_plane_stopped(deployed):
    path, source, package = transform.default_model(deployed["work"])  # the fixture stopped the control plane
    assert path.resolve() == deployed["model_tar"].resolve() and package.endswith("model-package/classifier/1")


def test_data_processing_and_placeholders_by_reason_in_the_manifest(deployed, tmp_path):
    rows = deployed["rows"].head(60).astype(object).copy()
    rows.insert(0, "row_id", [f"id-{i}" for i in range(60)])
    rows.iloc[4, rows.columns.get_loc("funded_amnt")] = "lots"
    rows.iloc[9, rows.columns.get_loc("funded_amnt")] = "lots"
    data = tmp_path / "in" / "ids.csv"
    data.parent.mkdir()
    rows.to_csv(data, index=False, header=False)
    job = replace(_job(deployed, data, tmp_path / "out", input_filter="$[1:]", join_source="Input",
                       output_filter="$[0,-2]"),
                  environment={**LIGHT, "SAGEMAKER_BATCH_BAD_RECORDS": "placeholder"})
    raise_for_failures(run_transform(job, tmp_path / "job"))
    lines = (tmp_path / "out" / "ids.csv.out").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == list(rows["row_id"])  # the id kept beside its score
    assert lines[4] == "id-4," and lines[9] == "id-9,"  # a placeholder's empty probability
    good = [i for i in range(60) if i not in (4, 9)]
    assert [lines[i].split(",")[1] for i in good] == [deployed["endpoint_lines"][i].split(",")[0] for i in good]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (reason, count), = manifest["placeholders"].items()
    assert count == 2 and reason.startswith("line N, column 'funded_amnt'") and "line 5" not in reason


def test_split_none_refuses_an_object_over_the_payload_before_starting(deployed, tmp_path):
    data = tmp_path / "in" / "big.csv"
    data.parent.mkdir()
    pd.concat([deployed["rows"]] * 80, ignore_index=True).to_csv(data, index=False, header=False)
    assert data.stat().st_size > 1024 * 1024
    with pytest.raises(transform.ConfigError, match="big.csv is .* bytes, above MaxPayloadInMB \\(1 MB\\) with SplitType=None"):
        run_transform(_job(deployed, data, tmp_path / "out", split_type="None", max_payload_mb=1), tmp_path / "job")
    assert not (tmp_path / "job").exists()  # nothing started
