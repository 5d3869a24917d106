"""The generated classifier pipeline, executed by the SDK's LocalPipelineSession in the images.

What runs is pipelines.sagemaker.build() of the spec's local-mode variant (local_mode_variant):
ShardedByS3Key inputs become FullyReplicated (local mode refuses sharding; the hosts split the files
themselves) and register/deploy are left out: on the `sagemaker` backend they call the SageMaker API
from the container, which has no AWS and no route to a control plane here. The transform step is
left out too: local mode ignores its DataProcessing (tests/conformance/test_conformance_sdk_transform.py
runs the SDK's Transformer on its own). They are covered by the
project's own runner (tests/containers) instead. S3 between the steps is moto's on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, REPO
from tests.conformance.test_conformance_sdk_local import comparable

pytestmark = pytest.mark.conformance
FORECAST_DATA = REPO / "data" / "us_employment.csv"


@pytest.fixture
def run_local_pipeline(sdk, train_image, process_image):
    def run(**parameters):
        result, log = sdk({"kind": "pipeline", "pipeline": "classifier", "data": str(DATA),
                           "images": {"train": train_image, "process": process_image}, "parameters": parameters})
        return result, log

    return run


def test_passing_branch_gives_the_runners_evaluation(run_local_pipeline, runner_run):
    result, log = run_local_pipeline()
    assert result["status"] == "Succeeded", (result, log[-4000:])
    assert result["differences"] == [
        "step 'clean' input(s) ['raw']: ShardedByS3Key -> FullyReplicated",
        "step 'train': spot and checkpoints -> on-demand, no checkpoints",
        "step 'register' left out (it calls the SageMaker API)",
        "step 'deploy' left out (it calls the SageMaker API)",
        "step 'transform' left out (local mode ignores DataProcessing: the server would get the columns its "
        "InputFilter leaves out)",
    ]
    assert {name for name, step in result["steps"].items() if step["status"] == "Succeeded"} >= {
        "roles", "clean", "feature", "train", "evaluation", "evaluation-gate"}
    assert "evaluation-gate-failed" not in result["steps"]
    theirs = json.loads((runner_run / "s3" / "evaluation" / "evaluation" / "evaluation.json").read_text())
    assert comparable(result["evaluation"]) == comparable(theirs)


def test_failing_branch_reaches_the_fail_step_with_a_readable_message(run_local_pipeline):
    result, log = run_local_pipeline(GateFloor=0.99)
    assert result["status"] == "Failed", (result, log[-4000:])
    assert result["steps"]["evaluation-gate-failed"]["status"] == "Failed"
    reason = result["failure_reason"]
    print(f"FailureReason: {reason}")
    assert "GateFloor = 0.99" in reason and "gate.value = 0." in reason, reason


@pytest.fixture(scope="module")
def forecast_runner_run(tmp_path_factory):
    """The project's own runner on us_employment with the forecast pipeline's defaults."""
    from localrun.engines import ProcessEngine
    from localrun.pipeline import RunConfig, run_pipeline
    from localrun.runner import LocalSession
    from pipeline.spec import FORECAST

    run_dir = tmp_path_factory.mktemp("forecast-runner")
    run_pipeline(RunConfig(FORECAST, parameters={"InputData": str(FORECAST_DATA)}), LocalSession(run_dir, ProcessEngine()))
    return run_dir


def test_the_forecast_pipeline_gives_the_runners_evaluation(sdk, train_image, process_image, forecast_runner_run):
    """The second task's generated pipeline under LocalPipelineSession: the same step scripts in the same
    images, the task named by clean's fixed argument, the same MASE and skill as the runner's."""
    result, log = sdk({"kind": "pipeline", "pipeline": "forecast", "data": str(FORECAST_DATA),
                       "images": {"train": train_image, "process": process_image}, "parameters": {}})
    if result["status"] != "Succeeded":
        print(log[-12000:])  # the containers' own output: FailureReason only names docker-compose's exit code
    assert result["status"] == "Succeeded", result["failure_reason"]
    assert result["differences"] == [
        "step 'clean' input(s) ['raw']: ShardedByS3Key -> FullyReplicated",
        "step 'train' input(s) ['train']: ShardedByS3Key -> FullyReplicated",
        "step 'train': spot and checkpoints -> on-demand, no checkpoints",
    ]
    theirs = json.loads((forecast_runner_run / "s3" / "evaluation" / "evaluation" / "evaluation.json").read_text())
    assert result["evaluation"]["gate"]["metric"] == "skill_vs_seasonal_naive"
    assert comparable(result["evaluation"]) == comparable(theirs)
