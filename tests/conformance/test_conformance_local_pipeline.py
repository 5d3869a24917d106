"""The generated classifier pipeline, executed by the SDK's LocalPipelineSession in the images.

What runs is pipelines.sagemaker.build() of the spec's local-mode variant (local_mode_variant):
ShardedByS3Key inputs become FullyReplicated (local mode refuses sharding; the hosts split the files
themselves) and register/deploy are left out: on the `sagemaker` backend they call the SageMaker API
from the container, which has no AWS and no route to a control plane here. They are covered by the
project's own runner (tests/containers) instead. S3 between the steps is moto's on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA
from tests.conformance.test_conformance_sdk_local import comparable

pytestmark = pytest.mark.conformance


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
    ]
    assert {name for name, step in result["steps"].items() if step["status"] == "Succeeded"} >= {
        "clean", "feature", "train", "evaluation", "evaluation-gate"}
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
