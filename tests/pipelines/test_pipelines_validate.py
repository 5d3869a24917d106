"""pipelines.validate rejects what SageMaker would refuse: negative controls on the real definition,
each one mutation away from a valid one."""

from __future__ import annotations

import copy
import json

import pytest

from pipelines import validate


def mutated(definition: dict, step_name: str, change) -> dict:
    broken = copy.deepcopy(definition)
    for step in validate.all_steps(broken["Steps"]):
        if step["Name"] == step_name:
            change(step)
    return broken


def only_problem(definition: dict) -> str:
    found = validate.problems(definition)
    assert len(found) == 1, found
    return found[0]


def test_a_misspelt_key_is_rejected(definition):
    def misspell(step):
        step["Arguments"]["ProcessingInput"] = step["Arguments"].pop("ProcessingInputs")

    message = only_problem(mutated(definition, "clean", misspell))
    assert "Unknown parameter in input: \"ProcessingInput\"" in message and "step 'clean' (CreateProcessingJob)" in message


def test_a_wrong_type_is_rejected(definition):
    def stringify(step):
        step["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = "30"

    message = only_problem(mutated(definition, "feature", stringify))
    assert "ProcessingResources.ClusterConfig.VolumeSizeInGB" in message and "type: <class 'str'>" in message


def test_an_unknown_instance_type_is_rejected_literal_or_as_a_parameter_default(definition):
    def literal(step):
        step["Arguments"]["ResourceConfig"]["InstanceType"] = "ml.m5.xlargee"

    message = only_problem(mutated(definition, "train", literal))
    assert "'ml.m5.xlargee' is not one of TrainingInstanceType's" in message and "ml.m5.xlarge" in message

    broken = copy.deepcopy(definition)
    for parameter in broken["Parameters"]:
        if parameter["Name"] == "ProcessingInstanceType":
            parameter["DefaultValue"] = "ml.m5.xlargee"
    found = validate.problems(broken)
    from pipeline.spec import CLASSIFIER, ProcessingStep

    # every processing step reads it (clean, feature, evaluation, drift, register, deploy)
    assert len(found) == len([s for s in CLASSIFIER.steps if isinstance(s, ProcessingStep)])
    assert all("'ml.m5.xlargee' is not one of ProcessingInstanceType's" in p for p in found)


def test_a_64_character_name_is_rejected(definition):
    def long_name(step):
        step["Arguments"]["ProcessingJobName"] = "n" * 64

    message = only_problem(mutated(definition, "evaluation", long_name))
    assert "ProcessingJobName: 64 characters, above the maximum 63" in message


def test_an_environment_value_over_256_characters_is_rejected(definition):
    def environment(step):
        step["Arguments"]["Environment"] = {"NOTE": "x" * 257}

    message = only_problem(mutated(definition, "clean", environment))
    assert "Environment['NOTE']: 257 characters, above the maximum 256" in message


def test_a_wrong_enum_value_is_rejected(definition):
    def distribution(step):
        step["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] = "Sharded"

    assert "'Sharded' is not one of ProcessingS3DataDistributionType's" in only_problem(mutated(definition, "clean", distribution))


@pytest.mark.parametrize(
    "step_name, path, reference, expected",
    [
        ("clean", ("AppSpecification", "ContainerArguments", 1), {"Get": "Parameters.Targett"}, "parameter 'Targett' is not declared"),
        ("train", ("StoppingCondition", "MaxRuntimeInSeconds"), {"Get": "Parameters.Target"}, "parameter 'Target' is String, the request wants a integer"),
        ("feature", ("ProcessingInputs", 0, "S3Input", "S3Uri"),
         {"Get": "Steps.clean.ProcessingOutputConfig.Outputs['cleaned'].S3Output.S3Urii"}, "'S3Urii' is not in DescribeProcessingJob's"),
        ("feature", ("ProcessingInputs", 0, "S3Input", "S3Uri"),
         {"Get": "Steps.clean.ProcessingOutputConfig.Outputs['clean'].S3Output.S3Uri"}, "step 'clean' declares no ProcessingOutputConfig.Outputs named 'clean'"),
        ("evaluation", ("ProcessingInputs", 0, "S3Input", "S3Uri"), {"Get": "Steps.trian.ModelArtifacts.S3ModelArtifacts"}, "reads step 'trian'"),
        ("evaluation", ("ProcessingInputs", 0, "S3Input", "S3Uri"), {"Get": "Steps.train.ModelArtifacts"}, "is a structure (ModelArtifacts), not a value"),
        ("evaluation-gate", ("Conditions", 0, "LeftValue"),
         {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.evaluation.PropertyFiles.Evaluation"}, "Path": "gate.value"}},
         "property file 'Evaluation', which step 'evaluation' does not declare"),
    ],
)
def test_bad_references_are_rejected(definition, step_name, path, reference, expected):
    def replace(step):
        node = step["Arguments"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = reference

    message = only_problem(mutated(definition, step_name, replace))
    assert expected in message


def test_check_raises_a_config_error_listing_every_problem(definition):
    def two(step):
        step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.nope"
        step["Arguments"]["ProcessingJobName"] = "-bad"

    with pytest.raises(validate.DefinitionError) as raised:
        validate.check(json.dumps(mutated(definition, "clean", two)))
    assert "2 problem(s)" in str(raised.value) and "ml.nope" in str(raised.value) and "'-bad' does not match" in str(raised.value)
