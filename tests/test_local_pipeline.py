"""The whole local pipeline, as `make run` runs it, on the default data and on another schema.

The penguins runs that several tests read are the session's `cached_runs` (tests/conftest.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_runs import PENGUIN_ARGS, PENGUINS, REPO, run_pipeline, summary_of

# Whole pipelines (the session's cached_runs fixture runs three): past the default per-test timeout
# on a loaded machine.
pytestmark = pytest.mark.timeout(2400)


def stop_control_plane(work: Path) -> None:
    """A run leaves its control plane and endpoint serving, by design: a test stops both, and checks."""
    from localrun.controlplane import daemon

    daemon.stop(work / "controlplane")
    assert _processes_mentioning(work / "controlplane") == []


@pytest.fixture
def work_dir(tmp_path):
    yield tmp_path
    stop_control_plane(tmp_path)


def post_rows(url: str, csv: str) -> tuple[int, dict, dict]:
    import urllib.request

    request = urllib.request.Request(url, data=csv.encode(), method="POST",
                                     headers={"Content-Type": "text/csv", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers), json.loads(response.read())


@pytest.mark.slow
def test_default_dataset_end_to_end(work_dir):
    tmp_path = work_dir
    result = run_pipeline(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = summary_of(tmp_path)
    assert 0.68 < summary["test_auc"] < 0.85  # lending_club is hard: ~0.74 is the honest figure
    assert f"TEST AUC {summary['test_auc']:.4f}" in result.stdout
    for name, path in summary["outputs"].items():
        assert Path(path).exists(), name
        assert path in result.stdout
    evaluation = json.loads(Path(summary["outputs"]["evaluation"]).read_text())
    assert evaluation["binary_classification_metrics"]["auc"]["value"] == summary["test_auc"]
    # the report people open: every plot drawn in a real browser, no console error
    report = Path(summary["outputs"]["evaluation_report"])
    assert f"REPORT {report}" in result.stdout
    _assert_report_renders(report, {"roc", "precision_recall", "calibration", "confusion_challenger", "importances"})
    # a fresh split of the same data against the training baseline raises no alarm
    assert summary["drift_violations"] == [] and "DRIFT test split against the training baseline: 0 violations" in result.stdout
    # register: the first model of a fresh group is judged on the floor (GateFloor) alone, and passes it
    decision = summary["registration"]
    assert decision["status"] == "Approved" and decision["registered"] is True and decision["champion"] is None
    assert decision["gate"]["challenger_value"] == summary["test_auc"] and decision["gate"]["floor"] == 0.70
    assert f"REGISTRY Approved: {decision['model_package_arn']} (registered): {decision['reason']}" in result.stdout
    # deploy created the endpoint, which serves that package and outlives the run
    deployment = summary["deployment"]
    assert deployment["action"] == "created" and deployment["status"] == "InService"
    assert deployment["model_package_arn"] == decision["model_package_arn"]
    assert f"ENDPOINT classifier created, serving {decision['model_package_arn']}: {deployment['url']}" in result.stdout
    # the package carries the training split's baselines, for drift checks of what it will be sent
    package = _describe_package(tmp_path, decision["model_package_arn"])
    baseline = Path(summary["outputs"]["baseline"])
    assert package["DriftCheckBaselines"]["ModelDataQuality"] == package["ModelMetrics"]["ModelDataQuality"] == {
        "Statistics": {"ContentType": "application/json", "S3Uri": (baseline / "statistics.json").as_uri()},
        "Constraints": {"ContentType": "application/json", "S3Uri": (baseline / "constraints.json").as_uri()}}
    # the run ended with a smoke request through it: raw test rows, the runtime API's path
    predictions = summary["endpoint_predictions"]
    assert len(predictions) == 5
    for prediction in predictions:
        assert 0 < prediction["probability"] < 1
        assert prediction["label"] == ("bad" if prediction["probability"] >= summary["threshold"] else "good")
        assert prediction["variant"] == "primary"
    # after the run it still answers a real request, with the variant that served it
    import pandas as pd

    rows = pd.read_parquet(Path(summary["outputs"]["test"]) / "test.parquet").drop(columns=["Class"]).head(3)
    status, headers, body = post_rows(deployment["url"], rows.to_csv(index=False))
    assert status == 200 and headers["X-Amzn-Invoked-Production-Variant"] == "primary"
    assert [p["probability"] for p in body["predictions"]] == [p["probability"] for p in predictions[:3]]
    # make drift: what the endpoint captured (the smoke request's rows and these) against the served package's
    # baselines raises no alarm; a batch with one feature scaled fails on it alone, with FAIL=1
    captured = make("drift", f"WORK={tmp_path}")
    assert captured.returncode == 0, captured.stderr[-2000:]
    assert f"against the baselines of package {decision['model_package_arn']}" in captured.stdout
    assert "DRIFT 0 violations" in captured.stdout and "rows (1 capture files)" in captured.stdout
    shifted = pd.read_parquet(Path(summary["outputs"]["test"]) / "test.parquet")
    shifted["int_rate"] *= 1.5
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    alarmed = make("drift", f"WORK={tmp_path}", f"DATA={tmp_path / 'shifted.csv'}", "FAIL=1")
    assert alarmed.returncode == 2, alarmed.stderr[-2000:]
    assert "DRIFT 1 violations" in alarmed.stdout and "int_rate: baseline_drift_check" in alarmed.stdout
    # make serve finds it, and says how to stop it
    served = subprocess.run([sys.executable, "-m", "localrun.serve", "--work-dir", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert served.returncode == 0, served.stderr
    assert f"POST {deployment['url']}" in served.stdout and "localrun.controlplane stop" in served.stdout


@pytest.mark.slow
def test_another_schema_runs_by_changing_only_target_and_label(cached_runs):
    # penguins: target 'sex' (female/male), categorical species and island, NA values, rows without a target
    _, runs = cached_runs
    summary, _ = runs[0]
    assert summary["test_auc"] > 0.8  # sex is well predicted by body measurements
    cleaned = Path(summary["outputs"]["cleaned"])
    report = json.loads((cleaned / "report-algo-1.json").read_text())
    assert report["dropped"]["missing_target"] == 11
    schema = json.loads((cleaned / "schema-algo-1.json").read_text())
    assert schema["categorical"] == ["species", "island"] and schema["negative_label"] == "male"


def test_a_failing_step_stops_the_pipeline_and_says_why(tmp_path):
    result = run_pipeline(tmp_path, "--data", str(PENGUINS), "--target", "gender", "--positive-label", "f")
    assert result.returncode == 1
    assert "PIPELINE FAILED: step 'roles' on algo-1 failed with exit code 2: penguins.csv: target column 'gender' not found" in result.stderr
    assert not (tmp_path / "latest" / "summary.json").exists()


def step_statuses(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "lineage.json").read_text())
    return {entry["step"]: entry["status"] for entry in manifest["steps"]}


@pytest.mark.slow
def test_an_unchanged_rerun_takes_every_step_from_the_cache(cached_runs):
    _, runs = cached_runs
    (first, first_dir), (second, second_dir) = runs[:2]
    assert set(step_statuses(first_dir).values()) == {"succeeded"}
    # every cacheable step; register, deploy and transform have side effects (or score gated models) and always run
    assert step_statuses(second_dir) == {**dict.fromkeys(("roles", "clean", "feature", "train", "evaluation", "drift"), "cached"),
                                         "register": "succeeded", "deploy": "succeeded", "transform": "succeeded"}
    assert second["model_sha256"] == first["model_sha256"] and second["test_auc"] == first["test_auc"]
    # nothing new: the same artifact is reported as registered, and the endpoint is left as it is
    assert first["registration"]["status"] == "Approved" and first["deployment"]["action"] == "created"
    assert second["registration"]["registered"] is False
    assert second["registration"]["model_package_arn"] == first["registration"]["model_package_arn"]
    assert second["deployment"]["action"] == "unchanged"


@pytest.mark.slow
def test_a_changed_hyperparameter_reruns_training_and_what_follows_only(cached_runs):
    _, runs = cached_runs
    third, third_dir = runs[2]
    # drift reads feature's outputs only: still cached
    assert step_statuses(third_dir) == {"roles": "cached", "clean": "cached", "feature": "cached", "drift": "cached", "train": "succeeded", "evaluation": "succeeded",
                                        "register": "succeeded", "deploy": "succeeded", "transform": "succeeded"}
    assert third["model_sha256"] != runs[0][0]["model_sha256"]


@pytest.mark.slow
def test_lineage_names_the_run_data_code_and_parameters_of_a_model(cached_runs):
    work, runs = cached_runs
    third, third_dir = runs[2]
    result = subprocess.run([sys.executable, "-m", "localrun", "lineage", "--work-dir", str(work), third["model_sha256"][:12]],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"run        {third_dir}" in result.stdout
    assert '"learning_rate": 0.1' in result.stdout  # the train step's arguments
    assert f"data       {PENGUINS}" in result.stdout
    listing = subprocess.run([sys.executable, "-m", "localrun", "runs", "--work-dir", str(work)],
                             cwd=REPO, capture_output=True, text=True, timeout=60).stdout
    assert len(listing.splitlines()) == 3 and third["model_sha256"][:16] in listing


@pytest.mark.slow
def test_a_rerun_without_the_cache_gives_the_same_model_bytes(cached_runs):
    work, runs = cached_runs
    result = run_pipeline(work, *PENGUIN_ARGS, "--no-cache")
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(step_statuses((work / "latest").resolve()).values()) == {"succeeded"}
    assert summary_of(work)["model_sha256"] == runs[0][0]["model_sha256"]
    assert summary_of(work)["test_auc"] == runs[0][0]["test_auc"]


@pytest.mark.slow
def test_a_failed_run_leaves_latest_at_the_last_good_run(cached_runs):
    work, _ = cached_runs
    good = (work / "latest").resolve()
    result = run_pipeline(work, *PENGUIN_ARGS, "--param", "GateFloor=0.999")
    assert result.returncode == 1
    assert "PIPELINE FAILED: the model's gate value (test AUC) is below GateFloor" in result.stderr
    assert (work / "latest").resolve() == good


def test_missing_data_is_a_clear_error_and_leaves_nothing(tmp_path):
    result = run_pipeline(tmp_path, "--data", str(tmp_path / "nope.csv"), "--target", "y", "--positive-label", "1")
    assert result.returncode == 2
    assert f"--data {tmp_path / 'nope.csv'}: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def _assert_report_renders(page: Path, plots: set[str]) -> None:
    """Opened in headless Chromium: every plot present and painted, no console error (skips without
    Chromium, fails instead under CI=true, as tests/reporting does)."""
    import os

    from tests.reporting import reporting_browser

    binary = reporting_browser.find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium to render the report: apt-get install -y chromium")
        pytest.skip("no chromium (apt-get install -y chromium)")
    rendered = reporting_browser.render(page, binary)
    assert rendered.errors == []
    assert {plot["name"] for plot in rendered.plots} == plots
    assert all(plot["painted"] >= 3 and plot["width"] > 200 for plot in rendered.plots), rendered.plots


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.ready", *args], cwd=REPO, capture_output=True, text=True, timeout=1800)


def _processes_mentioning(path: Path) -> list[int]:
    """PIDs whose command line or environment names path (the control plane, its endpoints' hosts)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and any(str(path).encode() in (proc / part).read_bytes() for part in ("cmdline", "environ")):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _processes_under(path: Path) -> list[int]:
    """PIDs whose environment puts SAGEMAKER_BASE_DIR under path (a step's host)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_sigterm_to_the_runner_stops_the_running_step_and_orphans_nothing(tmp_path):
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "localrun", "--work-dir", str(tmp_path), *PENGUIN_ARGS[:-1], "n_estimators=3000",
         "-p", "stage_size=1", "-p", "early_stopping_stages=0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("runs/*/jobs/train/algo-1/checkpoints/checkpoint-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_under(tmp_path / "runs"), "training never started"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "PIPELINE FAILED: stopped by SIGTERM" in stderr and "Traceback" not in stderr
    assert _processes_under(tmp_path / "runs") == []
    failure = next(tmp_path.glob("runs/*/jobs/train/algo-1/output/failure")).read_text()
    assert failure.startswith("stopped by SIGTERM after stage")  # the script checkpointed on its way out


def test_make_passes_labels_paths_and_hyperparameters_quoted(tmp_path):
    dumper = tmp_path / "argv.py"
    dumper.write_text("import json, sys; print(json.dumps(sys.argv[1:]))\n")
    dumper.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "-o", ".venv/.ready", "run", f"PYTHON={sys.executable} {dumper}",
         "DATA=my data/it's.csv", "TARGET=income", "POSITIVE=>50K", 'IDS=a b', "HP=n_estimators=20 max_depth=4",
         "PARAMS=GateFloor=0.8 ModelPackageGroup=it's"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    argv = json.loads(result.stdout.splitlines()[-1])
    assert argv[argv.index("--data") + 1] == "my data/it's.csv"
    assert argv[argv.index("--positive-label") + 1] == ">50K"
    assert argv[argv.index("--id-columns") + 1] == "a b"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-p"] == ["n_estimators=20", "max_depth=4"]
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--param"] == ["GateFloor=0.8", "ModelPackageGroup=it's"]
    assert not (REPO / "50K").exists()


@pytest.mark.slow
def test_a_weaker_challenger_is_not_approved_and_the_champion_keeps_serving(cached_runs):
    """The gate over two runs: from the cache but for training, a one-tree model (GateFloor lowered so the
    pipeline's own gate lets it through) is not better than the champion: not Approved, not deployed."""
    work, runs = cached_runs
    served = json.loads((work / "latest" / "summary.json").read_text())["deployment"]
    result = run_pipeline(work, *PENGUIN_ARGS[:-1], "n_estimators=1", "--param", "GateFloor=0.5")
    assert result.returncode == 0, result.stderr[-2000:]  # a challenger that is not approved is a result
    summary = summary_of(work)
    assert step_statuses((work / "latest").resolve())["feature"] == "cached"
    decision = summary["registration"]
    assert decision["registered"] is True and decision["status"] == "PendingManualApproval"
    assert decision["champion"]["value"] > decision["gate"]["challenger_value"]
    assert f"REGISTRY PendingManualApproval: {decision['model_package_arn']}" in result.stdout
    deployment = summary["deployment"]
    assert deployment["action"] == "unchanged" and deployment["model_package_arn"] == served["model_package_arn"]
    assert deployment["model_package_arn"] != decision["model_package_arn"]
    status, _, body = post_rows(deployment["url"], "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,"
                                "body_mass_g,year\nAdelie,Torgersen,39.1,18.7,181,3750,2007\n")
    assert status == 200 and len(body["predictions"]) == 1

    # a person approves it after all (the audit trail says who and why), and one command deploys it
    ref = f"{decision['model_package_group']}/{decision['model_package_version']}"
    approved = make("registry", f"WORK={work}", f"CMD=approve {ref} --reason 'accepted for the demo' --by reviewer")
    assert approved.returncode == 0, approved.stderr
    assert "PendingManualApproval -> Approved" in approved.stdout
    trail = [json.loads(line) for line in (work / "registry" / "audit.jsonl").read_text().splitlines()]
    assert trail[-1] | {"time": None} == trail[-1] | {"time": None, "who": "reviewer", "from": "PendingManualApproval",
                                                     "to": "Approved", "reason": "accepted for the demo"}
    deployed = make("deploy", f"WORK={work}", f"DATA={PENGUINS}", "TARGET=sex", "POSITIVE=female", "HP=n_estimators=1",
                    "PARAMS=GateFloor=0.5")
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    after = summary_of(work)["deployment"]
    assert after["action"] == "updated" and after["model_package_arn"] == decision["model_package_arn"]


class PollingClient:
    """Posts the same raw rows to an endpoint back to back from a thread, as a caller would during a
    deployment; records every answer: (time, HTTP status or the error, probabilities)."""

    def __init__(self, url: str, csv: str):
        import threading

        self.url, self.csv, self.answers = url, csv, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import time
        import urllib.error

        while not self._stop.is_set():
            try:
                status, _, body = post_rows(self.url, self.csv)
                self.answers.append((time.time(), status, tuple(p["probability"] for p in body["predictions"])))
            except (urllib.error.URLError, OSError, ValueError) as error:
                self.answers.append((time.time(), repr(error), None))

    def __enter__(self) -> "PollingClient":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def failed(self) -> list:
        return [answer for answer in self.answers if answer[1] != 200]


@pytest.mark.slow
def test_a_better_challenger_replaces_the_endpoint_under_load_and_a_corrupted_one_is_refused(work_dir):
    """Issue 8's gate over runs, with a client polling the endpoint throughout: a one-tree champion, a better
    challenger that is Approved and takes over the endpoint blue/green with no failed request, then a package
    whose artifact was corrupted after registration, refused by deploy while the endpoint keeps serving."""
    import pandas as pd

    weak = run_pipeline(work_dir, *PENGUIN_ARGS[:-1], "n_estimators=1", "--param", "GateFloor=0.5")
    assert weak.returncode == 0, weak.stderr[-2000:]
    champion = summary_of(work_dir)
    assert champion["registration"]["status"] == "Approved" and champion["deployment"]["action"] == "created"
    url = champion["deployment"]["url"]
    rows = pd.read_parquet(Path(champion["outputs"]["test"]) / "test.parquet").drop(columns=["sex"]).head(5)
    csv = rows.to_csv(index=False)
    old = post_rows(url, csv)[2]["predictions"]

    with PollingClient(url, csv) as client:
        better = run_pipeline(work_dir, *PENGUIN_ARGS)
    assert better.returncode == 0, better.stderr[-2000:]
    challenger = summary_of(work_dir)
    decision, deployment = challenger["registration"], challenger["deployment"]
    assert decision["status"] == "Approved" and decision["champion"]["arn"] == champion["registration"]["model_package_arn"]
    assert decision["gate"]["challenger_value"] > decision["champion"]["value"]
    assert deployment["action"] == "updated" and deployment["url"] == url
    # the page a person would look at: the champion beside the challenger, on the same rows
    comparison = Path(challenger["outputs"]["registration_report"])
    assert f"REPORT {comparison}" in better.stdout
    _assert_report_renders(comparison, {"roc", "precision_recall", "calibration", "confusion_challenger",
                                         f"confusion_champion v{decision['champion']['version']}", "comparison"})
    assert deployment["model_package_arn"] == decision["model_package_arn"]
    # no request failed; answers went from the champion's to the challenger's once, and stayed
    assert client.failed() == [] and len(client.answers) > 10
    old_answer = tuple(p["probability"] for p in old)
    new_answer = tuple(p["probability"] for p in post_rows(url, csv)[2]["predictions"])
    assert new_answer != old_answer
    kinds = [answer[2] for answer in client.answers]
    assert set(kinds) == {old_answer, new_answer}
    switch = kinds.index(new_answer)
    assert set(kinds[switch:]) == {new_answer}
    decided = (Path(challenger["outputs"]["registration"])).stat().st_mtime
    report = {"requests_sent": len(client.answers), "requests_failed": len(client.failed()),
              "decision_to_serving_s": round(client.answers[switch][0] - decided, 2)}
    print(f"\nBLUE/GREEN under a polling client: {json.dumps(report)}")
    assert report["decision_to_serving_s"] > 0

    # the first package's artifact is altered after registration; deploying it by version is refused
    from urllib.parse import urlparse

    package = _describe_package(work_dir, champion["registration"]["model_package_arn"])
    artifact = Path(urlparse(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]).path)
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with PollingClient(url, csv) as client:
        broken = run_pipeline(work_dir, *PENGUIN_ARGS, "--from", "deploy",
                              "--set", f"deploy.model_package_version={package['ModelPackageVersion']}")
    assert broken.returncode != 0
    assert "SHA-256" in broken.stdout + broken.stderr
    assert client.failed() == [] and {answer[2] for answer in client.answers} == {new_answer}


def _describe_package(work: Path, arn: str) -> dict:
    """DescribeModelPackage on the run's local control plane, as a person would with boto3."""
    import boto3

    from localrun.controlplane import daemon

    plane = daemon.status(work / "controlplane")
    assert plane, "the control plane of the run is not running"
    sm = boto3.client("sagemaker", endpoint_url=plane["url"], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    return sm.describe_model_package(ModelPackageName=arn)
