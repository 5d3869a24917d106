"""The CLI offline: a compile sends no request anywhere; upsert and start say clearly when they need
AWS credentials; the requests they would send are valid for SageMaker (botocore Stubber)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber

from pipelines.__main__ import start, upsert
from tests.pipelines.conftest import REPO

def test_a_definition_compile_sends_no_request(compiled):
    counted = json.loads(compiled["requests"])
    from pipeline.spec import CLASSIFIER

    # every step outside the gate's branch, and the ConditionStep that holds the rest
    assert counted["hooked_steps"] == len([s for s in CLASSIFIER.steps if not s.on_gate_pass]) + 1
    # every botocore request (before-send) and every socket connect went to 127.0.0.1, or none was made
    assert all("127.0.0.1" in url for url in counted["sent"]), counted["sent"]
    assert all(address.startswith(("('127.0.0.1'", "/")) for address in counted["connects"]), counted["connects"]
    assert counted["sent"] == [] and counted["connects"] == []


def no_credentials_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               AWS_DEFAULT_REGION="eu-west-1")
    return env


@pytest.mark.parametrize("command", [["upsert"], ["start", "--parameter", "GateFloor=0.8"]])
def test_upsert_and_start_say_they_need_credentials(command):
    result = subprocess.run([sys.executable, "-m", "pipelines", *command], cwd=REPO, capture_output=True, text=True,
                            env=no_credentials_env(), timeout=120)
    assert result.returncode == 2
    assert f"pipelines {command[0]}: this command talks to SageMaker and needs AWS credentials; none were found" in result.stderr
    assert "`python -m pipelines definition` needs none" in result.stderr


def test_upsert_refuses_placeholders_before_any_request():
    env = {**no_credentials_env(), "AWS_ACCESS_KEY_ID": "dummy", "AWS_SECRET_ACCESS_KEY": "dummy"}
    result = subprocess.run([sys.executable, "-m", "pipelines", "upsert"], cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "upsert needs real values, not placeholders: role ARN (arn:aws:iam::000000000000:role/sagemaker-steps-execution)" in result.stderr


@pytest.fixture
def stubbed():
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


ROLE = "arn:aws:iam::123456789012:role/pipelines"
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/classifier"


def test_upsert_creates_then_updates_with_the_exact_definition(stubbed, definition_text):
    client, stubber = stubbed
    request = {"PipelineName": "classifier", "PipelineDefinition": definition_text, "RoleArn": ROLE, "PipelineDescription": "d"}
    stubber.add_response("create_pipeline", {"PipelineArn": ARN}, {**request, "Tags": [{"Key": "team", "Value": "ml"}]})
    assert upsert(client, "classifier", definition_text, ROLE, (("team", "ml"),), "d") == f"created {ARN}"
    stubber.add_client_error("create_pipeline", "ResourceInUse", "exists")
    stubber.add_response("update_pipeline", {"PipelineArn": ARN}, request)
    assert upsert(client, "classifier", definition_text, ROLE, (), "d") == f"updated {ARN}"


def test_start_passes_pipeline_parameters(stubbed):
    client, stubber = stubbed
    stubber.add_response(
        "start_pipeline_execution", {"PipelineExecutionArn": f"{ARN}/execution/abc"},
        {"PipelineName": "classifier", "PipelineParameters": [{"Name": "GateFloor", "Value": "0.8"}, {"Name": "Target", "Value": "sex"}]},
    )
    assert start(client, "classifier", {"Target": "sex", "GateFloor": "0.8"}) == f"{ARN}/execution/abc"


def test_validate_command_on_a_saved_definition(tmp_path, definition_text):
    path = tmp_path / "classifier.json"
    path.write_text(definition_text)
    result = subprocess.run([sys.executable, "-m", "pipelines", "validate", str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "valid against the SageMaker service model" in result.stdout
    path.write_text(definition_text.replace('"ProcessingInputs"', '"ProcessingInput"', 1))
    result = subprocess.run([sys.executable, "-m", "pipelines", "validate", str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Unknown parameter in input: \"ProcessingInput\"" in result.stderr


def test_the_endpoint_models_role_is_its_own_compile_input():
    from pipeline import spec
    from pipelines.__main__ import compile_inputs, parse_args

    from common.errors import ConfigError

    jobs, serve = "arn:aws:iam::123456789012:role/churn-pipeline", "arn:aws:iam::123456789012:role/churn-serve"
    given = compile_inputs(parse_args(["definition", "--role-arn", jobs, "--model-role-arn", serve]), spec.CLASSIFIER)
    assert (given.role_arn, given.model_role_arn) == (jobs, serve)
    assert compile_inputs(parse_args(["definition", "--role-arn", jobs]), spec.CLASSIFIER).model_role_arn is None
    with pytest.raises(ConfigError, match="'churn-serve' is not an IAM role ARN"):
        compile_inputs(parse_args(["definition", "--model-role-arn", "churn-serve"]), spec.CLASSIFIER)
