"""Every step in its image, on an /opt/ml tree mounted as SageMaker local mode mounts it."""

import json
import time

import numpy as np
import pandas as pd
import pytest

from tasks.classifier import artifact
from localrun.docker_engine import DockerEngine
from localrun.endpoint import invoke, local_endpoint, score_rows
from localrun.engines import ProcessEngine
from localrun.jobs import lay_out
from localrun.controlplane import daemon
from localrun.pipeline import RunConfig, local_account, run_pipeline, score_on_endpoint, smoke_test_endpoint, summarize
from localrun.runner import LocalSession
from pipeline.spec import CLASSIFIER
from tests.conftest import DATA
from tests.steps.conftest import job

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def docker_engine(engine, train_image, process_image):
    return DockerEngine(train_image, process_image, client=engine)


@pytest.fixture(scope="module")
def pipeline_runs(tmp_path_factory, docker_engine):
    """The whole pipeline twice: every step in its container, and every step as a local process.
    In the docker run, register and deploy run in the processing container too, against a local
    control plane that hosts the endpoint in the serving image (the process run skips them)."""
    runs, planes = {}, []
    try:
        for name, eng in (("docker", docker_engine), ("process", ProcessEngine())):
            config = RunConfig(CLASSIFIER, parameters={"InputData": str(DATA)})  # the spec's defaults fit lending_club
            run_dir = tmp_path_factory.mktemp(name)
            if name == "docker":
                state_dir = run_dir / "controlplane"
                planes.append(state_dir)
                config.control_plane = lambda: daemon.ensure_running(state_dir, "docker")
                config.account = local_account(docker_engine.images)
                config.parameters["DataCaptureS3Uri"] = (run_dir / "data-capture").as_uri()
                docker_engine.shared = (run_dir,)  # register and deploy read file:// artifacts under it
            session = LocalSession(run_dir, eng)
            results = run_pipeline(config, session)
            summary = summarize(results, run_dir, time.perf_counter())
            summary["endpoint_predictions"] = score_on_endpoint(session, results)
            if summary["deployment"]:
                summary["deployed_predictions"] = smoke_test_endpoint(results, summary["deployment"])
            runs[name] = (run_dir, summary)
        yield runs
    finally:
        docker_engine.shared = ()
        for state_dir in planes:
            daemon.stop(state_dir)


def test_containers_give_the_same_results_as_processes(pipeline_runs):
    (docker_dir, docker), (process_dir, process) = pipeline_runs["docker"], pipeline_runs["process"]
    assert docker["test_auc"] == process["test_auc"] and 0.68 < docker["test_auc"] < 0.85
    assert docker["validation_logloss"] == process["validation_logloss"]
    for split in ("train", "validation", "test"):
        a = pd.read_parquet(docker_dir / "s3" / "feature" / split / f"{split}.parquet")
        b = pd.read_parquet(process_dir / "s3" / "feature" / split / f"{split}.parquet")
        pd.testing.assert_frame_equal(a, b)
    models = [artifact.load(d / "jobs" / "train" / "algo-1" / "model") for d in (docker_dir, process_dir)]
    test = pd.read_parquet(process_dir / "s3" / "feature" / "test" / "test.parquet")
    assert np.array_equal(models[0].predict_proba(test), models[1].predict_proba(test))
    # the serving container answered the run's closing requests with the model's own scores
    expected = models[1].predict_proba(test.head(5))
    assert np.allclose([p["probability"] for p in docker["endpoint_predictions"]], expected)


def test_register_and_deploy_run_in_containers_and_the_endpoint_serves_the_image(pipeline_runs, engine, train_image):
    """Steps in containers reach the control plane on the host (host network), and the endpoint it
    hosts runs the serving image: the package names that image, and the deployed endpoint answers
    with the model's own scores."""
    (docker_dir, docker), (_, process) = pipeline_runs["docker"], pipeline_runs["process"]
    assert process["registration"] is None and process["deployment"] is None  # no control plane given
    decision, deployment = docker["registration"], docker["deployment"]
    assert decision["status"] == "Approved" and decision["champion"] is None
    assert deployment["action"] == "created" and deployment["status"] == "InService"
    assert deployment["model_package_arn"] == decision["model_package_arn"]
    assert daemon.status(docker_dir / "controlplane"), "the run's control plane is not running"
    serving = [c for c in engine.containers.list() if c.image.id == engine.images.get(train_image).id]
    assert serving, "no container of the serving image hosts the endpoint"
    assert [p["probability"] for p in docker["deployed_predictions"]] == [p["probability"] for p in docker["endpoint_predictions"]]
    assert {p["variant"] for p in docker["deployed_predictions"]} == {"primary"}


def test_bad_input_in_the_processing_container_writes_the_message(tmp_path, docker_engine):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.csv").write_text("x,y\n1,bad\n")
    clean = job("clean", {"raw": raw}, {"target": "Class", "positive_label": "bad"})
    tree = lay_out(clean, tmp_path / "job", "algo-1", docker_engine.code_dir)
    assert docker_engine.run(clean, tree, "algo-1") == 2
    assert "target column 'Class' not found" in (tree / "output" / "message").read_text()


def test_docker_stop_checkpoints_training_through_the_toolkit(tmp_path, docker_engine, pipeline_runs):
    prepared = pipeline_runs["process"][0] / "s3" / "feature"
    train = job("train", {n: prepared / n for n in ("train", "validation", "preprocessor")},
                {"n_estimators": 400, "stage_size": 5, "early_stopping_stages": 0})
    tree = lay_out(train, tmp_path / "job", "algo-1", docker_engine.code_dir)
    container = docker_engine.container(docker_engine.train_image, tree, command=["train"],
                                        environment={"SM_STUDIO_LOCAL_MODE": "true"})
    try:
        deadline = time.monotonic() + 120
        while not list((tree / "checkpoints").glob("checkpoint-*.joblib")) and time.monotonic() < deadline:
            time.sleep(0.1)
        container.stop(timeout=60)  # SIGTERM, as StopTrainingJob and spot interruptions send; SIGKILL after 60 s
        assert container.wait()["StatusCode"] == 1  # script 143, reported by the toolkit as 1 (a SIGKILL gives 137)
    finally:
        container.remove(force=True)
    assert (tree / "output" / "failure").read_text().startswith("stopped by SIGTERM after stage")
    assert list((tree / "checkpoints").glob("checkpoint-*.joblib"))


def test_serving_container_answers_and_refuses_clearly(tmp_path, docker_engine, pipeline_runs):
    model_tar = pipeline_runs["process"][0] / "s3" / "train" / "model" / "model.tar.gz"
    test = pd.read_parquet(pipeline_runs["process"][0] / "s3" / "feature" / "test" / "test.parquet")
    with local_endpoint(docker_engine, model_tar, tmp_path / "serve") as url:
        # the container runs the server and its worker, nothing else (no shell, sshd or cron)
        [container] = [c for c in docker_engine.client.containers.list() if c.attrs["Config"].get("Cmd") == ["serve"]
                       and str(tmp_path / "serve") in str(c.attrs["HostConfig"].get("Binds"))]
        processes = container.top(ps_args="-o pid,comm")["Processes"]
        assert 1 <= len(processes) <= 3 and {p[1] for p in processes} <= {"serve", "python3", "gunicorn"}, processes
        schema = json.loads((tmp_path / "serve" / "model" / "metadata.json").read_text())["schema"]
        rows = test.head(3)[schema["numeric"] + schema["categorical"]]
        assert len(score_rows(url, rows)) == 3
        status, body = invoke(url, b"a,b\n1,2\n", content_type="application/x-unknown")
        assert status == 415
        status, _ = invoke(url, rows.to_csv(index=False).encode(), content_type="text/csv; charset=utf-8")
        assert status == 200
