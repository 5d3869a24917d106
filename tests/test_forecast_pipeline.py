"""The forecast pipeline as `make run TASK=forecast` runs it: us_employment (148 monthly series) through the
same step scripts as the classifier, the task named once by clean and read from the inputs after."""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from tests.local_runs import REPO

pytestmark = pytest.mark.timeout(2400)


def run_forecast(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localrun", "--task", "forecast", "--work-dir", str(work), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def us_employment_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("forecast")
    result = run_forecast(work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work, result, json.loads((work / "latest" / "summary.json").read_text())


@pytest.mark.slow
def test_us_employment_beats_seasonal_naive_through_the_gate(us_employment_run):
    _, result, summary = us_employment_run
    assert summary["task"] == "forecast" and summary["series"] == 148 and summary["season"] == 12
    assert summary["mase"] < summary["mase_seasonal_naive"]
    assert summary["gate"]["metric"] == "skill_vs_seasonal_naive"
    assert summary["gate"]["value"] == pytest.approx(1 - summary["mase"] / summary["mase_seasonal_naive"])
    assert f"gate: gate.value = {summary['gate']['value']} >= GateFloor 0.0" in result.stdout
    assert "TEST MASE" in result.stdout
    methods = summary["methods"]
    assert methods["holt_winters"] + methods["seasonal_naive_fallbacks"] == 148
    # the run ends by asking a local endpoint serving model.tar.gz for three series' next points
    served = summary["endpoint_forecasts"]
    assert len(served) == 9 and {row["step"] for row in served} == {1, 2, 3}
    assert all(row["lower"] <= row["mean"] <= row["upper"] for row in served)
    # the same numbers evaluation scored: no skew between the evaluated and the served model
    evaluated = pd.read_parquet(Path(summary["outputs"]["evaluation"]).parent / "forecasts.parquet").set_index(["series", "step"])
    for row in served:
        assert row["mean"] == evaluated.loc[(row["series"], row["step"]), "mean"]


@pytest.mark.slow
def test_the_task_travels_in_the_schema_and_the_model_metadata(us_employment_run):
    _, _, summary = us_employment_run
    cleaned = Path(summary["outputs"]["cleaned"])
    assert json.loads((cleaned / "schema-algo-1.json").read_text())["task"] == "forecast"
    report = json.loads((cleaned / "report-algo-1.json").read_text())
    assert report["totals"]["series_in"] == 148 and set(report["series"]) and report["freq"] == "MS"
    assert all({"decision", "filled"} <= set(entry) for entry in report["series"].values())  # every series' decisions
    assert json.loads((Path(summary["outputs"]["schema"]) / "schema.json").read_text())["task"] == "forecast"
    with tarfile.open(summary["outputs"]["model"]) as archive:
        assert json.load(archive.extractfile("metadata.json"))["task"] == "forecast"


@pytest.mark.slow
def test_forecasts_have_intervals_beside_the_actuals_and_per_series_metrics(us_employment_run):
    _, _, summary = us_employment_run
    evaluation = Path(summary["outputs"]["evaluation"]).parent
    forecasts = pd.read_parquet(evaluation / "forecasts.parquet")
    assert forecasts["series"].nunique() == 148 and len(forecasts) == 148 * 24
    assert (forecasts["lower"] <= forecasts["mean"]).all() and (forecasts["mean"] <= forecasts["upper"]).all()
    per_series = pd.read_csv(evaluation / "per_series.csv")
    assert {"mase", "mase_seasonal_naive", "smape", "rmse", "method"} <= set(per_series.columns) and len(per_series) == 148
    report = json.loads(Path(summary["outputs"]["evaluation"]).read_text())
    assert set(report["regression_metrics"]) == {"mae", "mse", "rmse", "r2"}
    # the page people open: the best, median and worst series and the errors beside seasonal naive, drawn in Chromium
    from tests.test_local_pipeline import _assert_report_renders

    _assert_report_renders(Path(summary["outputs"]["evaluation_report"]),
                           {"series_best", "series_median", "series_worst", "error_distribution"})


@pytest.mark.slow
def test_a_rerun_takes_every_step_from_the_cache_and_other_data_names_its_columns(us_employment_run):
    work, _, first = us_employment_run
    again = run_forecast(work)
    assert again.returncode == 0, again.stderr[-2000:]
    second = json.loads((work / "latest" / "summary.json").read_text())
    assert set(second["cached_steps"]) == {"clean", "feature", "train", "evaluation"}
    assert second["model_sha256"] == first["model_sha256"]
    copy = work / "copy.csv"
    copy.write_bytes((REPO / "data" / "us_employment.csv").read_bytes())
    other = run_forecast(work, "--data", str(copy))  # other data must name its columns
    assert other.returncode == 2 and "--time and --value" in other.stderr
    named = run_forecast(work, "--data", str(copy), "--series", "Series_ID", "--time", "Month", "--value", "Employed",
                         "--horizon", "12")
    assert named.returncode == 0, named.stderr[-2000:]
    assert json.loads((work / "latest" / "summary.json").read_text())["horizon"] == 12


def test_a_gate_floor_above_the_skill_ends_at_the_fail_step(tmp_path):
    result = run_forecast(tmp_path, "--param", "GateFloor=0.99")
    assert result.returncode == 1
    assert "the forecasts' skill against seasonal naive is below GateFloor" in result.stderr
    assert not (tmp_path / "latest").exists()


@pytest.mark.slow
def test_synthetic_servers_over_three_training_hosts_end_on_an_endpoint(tmp_path):
    """`make run TASK=forecast SYNTHETIC=60 HOSTS=3`: every host's part in the one artifact, evaluated and served."""
    result = run_forecast(tmp_path, "--synthetic", "60", "--hosts", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "latest" / "summary.json").read_text())
    run = Path(summary["run_dir"])
    assert sorted(p.name for p in (run / "jobs" / "train").iterdir()) == ["algo-1", "algo-2", "algo-3"]
    assert sorted(p.name for p in (run / "jobs" / "clean").iterdir()) == ["algo-1", "algo-2", "algo-3"]
    with tarfile.open(summary["outputs"]["model"]) as archive:
        meta = json.load(archive.extractfile("metadata.json"))
    parts = {p["host"]: p["series"] for p in meta["parts"]}
    assert set(parts) == {"algo-1", "algo-2", "algo-3"} and all(parts.values())
    assert sum(parts.values()) == summary["series"] == meta["data"]["series"] and summary["season"] == 24
    assert "train: algo-3 handed" in result.stdout and "hosts: 2 of 2 other host(s) done" in result.stdout
    # feature wrote the train split in 8 files (each series in one); ShardedByS3Key gave each host whole files
    train_files = sorted(p.name for p in Path(summary["outputs"]["train"]).glob("*.parquet"))
    assert train_files == [f"train-{k:03d}.parquet" for k in range(8)]
    given = {host: sorted(p.name for p in (run / "jobs" / "train" / host / "input" / "data" / "train").glob("*.parquet"))
             for host in parts}
    assert sorted(sum(given.values(), [])) == train_files and all(given.values())
    # evaluation: one forecasts file per training host, holding the series that host fitted
    evaluation = Path(summary["outputs"]["evaluation"]).parent
    everything = pd.read_parquet(evaluation / "forecasts.parquet")
    for host, count in parts.items():
        mine = pd.read_parquet(evaluation / f"forecasts-{host}.parquet")
        assert set(mine["host"]) == {host} and mine["series"].nunique() == count
        assert (mine["lower"] <= mine["upper"]).all() and {"actual", "mean"} <= set(mine.columns)
        pd.testing.assert_frame_equal(mine, everything[everything["host"] == host].reset_index(drop=True))
    assert summary["mase"] < summary["mase_seasonal_naive"]
    served = summary["endpoint_forecasts"]
    assert len(served) == 9 and all(row["lower"] <= row["mean"] <= row["upper"] for row in served)


def test_hosts_is_the_train_instance_count_parameter(tmp_path):
    """`HOSTS=3` and `PARAMS="TrainInstanceCount=3"` configure the same run: the parameter the definition's
    training job reads, clean on 3 hosts too (the synthetic input has 8 files), feature's train split in
    at least one file per host (TrainFiles), each simulated host its share of the cores."""
    from localrun.__main__ import parse_args

    def configured(*args):
        _, config = parse_args(["--task", "forecast", "--work-dir", str(tmp_path), "--synthetic", "30", *args])
        return config

    by_hosts, by_param = configured("--hosts", "3"), configured("--param", "TrainInstanceCount=3")
    for config in (by_hosts, by_param):
        assert config.values()["TrainInstanceCount"] == 3 and config.values()["CleanInstanceCount"] == 3
        assert config.instance_counts == {} and config.values()["TrainFiles"] == 8
    assert by_hosts.parameters == by_param.parameters and by_hosts.arguments == by_param.arguments
    twelve = configured("--hosts", "12")  # the input's 8 files (written above) cannot feed 12 clean hosts
    assert twelve.values()["TrainFiles"] == 12 and twelve.values()["CleanInstanceCount"] == 1
    one = configured()
    assert one.values()["TrainInstanceCount"] == 1 and "TrainFiles" not in one.parameters
    for bad in (["--hosts", "3", "--param", "TrainInstanceCount=2"], ["--param", "TrainInstanceCount=0"]):
        with pytest.raises(SystemExit):
            configured(*bad)
