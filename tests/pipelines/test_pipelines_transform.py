"""The transform step in the generated definitions: the classifier's after registration on the gate's
passing branch (its CreateModel step first, never cached), and the score pipeline's (a model package ARN
as a parameter); both valid against CreateModel and CreateTransformJob, and carrying what the spec says."""

from __future__ import annotations

import copy
import json

import pytest

from pipeline import spec
from pipelines import validate


def steps_by_name(definition: dict) -> dict[str, dict]:
    return {step["Name"]: step for step in validate.all_steps(definition["Steps"])}


@pytest.fixture(scope="module")
def score(compiled) -> dict:
    return json.loads(compiled["score"])


def _transform_request_matches_the_spec(step: dict, declared: spec.TransformStep) -> None:
    arguments = step["Arguments"]
    assert step["Type"] == "Transform" and "CacheConfig" not in step  # never cached
    assert arguments["BatchStrategy"] == declared.batch_strategy == "MultiRecord"
    assert arguments["TransformInput"]["SplitType"] == declared.split_type == "Line"
    assert arguments["TransformInput"]["ContentType"] == declared.content_type
    assert arguments["TransformOutput"]["Accept"] == declared.accept
    assert arguments["TransformOutput"]["AssembleWith"] == declared.assemble_with
    assert arguments["ModelClientConfig"] == {"InvocationsTimeoutInSeconds": declared.invocation_timeout,
                                              "InvocationsMaxRetries": declared.max_retries}
    # None: the container's /execution-parameters decides (worker count, floor(100 / workers) MB)
    assert "MaxPayloadInMB" not in arguments and "MaxConcurrentTransforms" not in arguments
    assert arguments["ModelName"] == {"Get": f"Steps.{declared.name}-model.ModelName"}
    resources = arguments["TransformResources"]
    assert resources["InstanceType"] == {"Get": "Parameters.TransformInstanceType"}
    assert resources["InstanceCount"] == {"Get": f"Parameters.{declared.name.capitalize()}InstanceCount"}


def test_both_definitions_are_valid_against_create_model_and_create_transform_job(definition, score):
    assert validate.problems(definition) == []
    assert validate.problems(score) == []


def test_the_classifier_scores_its_test_split_after_registration_on_the_passing_branch(definition):
    steps = steps_by_name(definition)
    declared = spec.CLASSIFIER.step("transform")
    gated = [s["Name"] for s in steps["evaluation-gate"]["Arguments"]["IfSteps"]]
    assert gated.index("register") < gated.index("transform-model") < gated.index("transform")
    transform = steps["transform"]
    _transform_request_matches_the_spec(transform, declared)
    assert transform["DependsOn"] == ["register"]  # only a registered (gated) model is batch-scored
    source = transform["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == {"Get": "Steps.feature.ProcessingOutputConfig.Outputs['batch'].S3Output.S3Uri"}
    assert transform["Arguments"]["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input",
                                                        "OutputFilter": "$[0,-2,-1]"}
    model = steps["transform-model"]
    assert model["Type"] == "Model" and "CacheConfig" not in model
    container = model["Arguments"]["PrimaryContainer"]
    assert container["Image"] == {"Get": "Parameters.TrainImageUri"}  # the training image serves (`serve`)
    assert container["ModelDataUrl"] == {"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"}
    # the container cannot read ModelClientConfig: the timeout reaches the server in the Model's environment
    assert container["Environment"] == {"SAGEMAKER_MODEL_SERVER_TIMEOUT": str(declared.invocation_timeout)}


def test_the_score_pipeline_takes_its_input_and_model_package_as_parameters(score):
    steps = steps_by_name(score)
    assert [s["Name"] for s in score["Steps"]] == ["transform-model", "transform"]
    _transform_request_matches_the_spec(steps["transform"], spec.SCORE.step("transform"))
    container = steps["transform-model"]["Arguments"]["PrimaryContainer"]
    assert container["ModelPackageName"] == {"Get": "Parameters.ModelPackageArn"} and "Image" not in container
    parameters = {p["Name"]: p for p in score["Parameters"]}
    assert parameters["InputData"]["DefaultValue"].startswith("s3://")
    assert parameters["ModelPackageArn"]["DefaultValue"].startswith("arn:aws:sagemaker:")
    assert steps["transform"]["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Parameters.InputData"}


@pytest.mark.parametrize("change, complaint", [
    (lambda a: a.update(MaxPayloadInMB=-1), "MaxPayloadInMB"),  # the model says min 0; the 100 cap is the spec's check
    (lambda a: a["TransformInput"].update(SplitType="Lines"), "SplitType"),
    (lambda a: a.update(BatchStrategy="MULTI_RECORD"), "BatchStrategy"),  # the docs' spelling is not the API's
    (lambda a: a["ModelClientConfig"].update(InvocationsTimeoutInSeconds=7200), "InvocationsTimeoutInSeconds"),
    (lambda a: a.update(DataProcessing={"InputFilter": "$[" + "1," * 40 + "]"}), "InputFilter"),
])
def test_the_validator_refuses_what_create_transform_job_would(score, change, complaint):
    broken = copy.deepcopy(score)
    change(steps_by_name(broken)["transform"]["Arguments"])
    problems = validate.problems(broken)
    assert problems and any(complaint in p for p in problems), problems


def test_a_model_step_without_an_image_or_package_is_refused(score):
    broken = copy.deepcopy(score)
    container = steps_by_name(broken)["transform-model"]["Arguments"]["PrimaryContainer"]
    container["ModelPackageName"] = "not a package!"
    assert any("ModelPackageName" in p for p in validate.problems(broken))
