"""The forecast pipeline (small) under the docker engine, training over 2 hosts: each host a container of
the train image with its own /opt/ml, the parts handed to the leader over the host network, one artifact
that evaluation scores whole and the serving image answers for every host's series."""

from __future__ import annotations

import json
import tarfile

import pytest

from localrun.docker_engine import DockerEngine
from localrun.pipeline import RunConfig, forecast_on_endpoint, run_pipeline
from localrun.runner import LocalSession
from pipeline.spec import FORECAST
from tasks.forecast import synthetic

pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]
SERIES = 40


@pytest.fixture(scope="module")
def docker_engine(engine, train_image, process_image):
    return DockerEngine(train_image, process_image, client=engine)


def test_two_training_hosts_in_containers_make_one_artifact_that_serves_every_series(tmp_path, docker_engine):
    data = tmp_path / "servers"
    data.mkdir()
    rows = synthetic.generate(SERIES, days=14, seed=3)
    ids = sorted(rows["series"].unique())
    for k in range(2):  # a file per clean host, each series in one file
        rows[rows["series"].isin(ids[k::2])].to_csv(data / f"servers-{k}.csv", index=False)
    config = RunConfig(FORECAST, parameters={"InputData": str(data), "SeriesColumn": "series", "TimeColumn": "timestamp",
                                             "ValueColumn": "value"},
                       arguments={"train": {"workers": 1}}, instance_counts={"clean": 2, "train": 2}, use_cache=False)
    run_dir = tmp_path / "run"
    docker_engine.shared = (run_dir,)
    try:
        session = LocalSession(run_dir, docker_engine)
        results = run_pipeline(config, session)
        with tarfile.open(results["train"].outputs["model"] / "model.tar.gz") as archive:
            names = set(archive.getnames())
            meta = json.load(archive.extractfile("metadata.json"))
        assert {"model-algo-1.npz", "model-algo-2.npz", "metadata.json"} <= names
        parts = {p["host"]: p["series"] for p in meta["parts"]}
        assert set(parts) == {"algo-1", "algo-2"} and all(parts.values()) and sum(parts.values()) == SERIES
        assert not any((results["train"].trees["algo-2"] / "model").iterdir())  # only the leader wrote the model
        report = json.loads((results["evaluation"].outputs["evaluation"] / "evaluation.json").read_text())
        assert report["forecast"]["series"] == SERIES
        forecasts = forecast_on_endpoint(session, results, series=SERIES, horizon=2)
        assert {row["series"] for row in forecasts} == set(ids)
    finally:
        docker_engine.shared = ()
