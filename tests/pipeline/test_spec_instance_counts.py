"""Instance counts as pipeline parameters: one name (`<Step>InstanceCount`) for the definition and the local runner."""

import pytest

from pipeline import spec
from pipeline.spec import FORECAST, SHARDED_BY_S3_KEY, Parameter, Pipeline


def test_the_forecast_pipeline_declares_its_sharded_steps_counts():
    assert spec.instance_count_parameter("train") == "TrainInstanceCount"
    assert spec.instance_count_parameter("feature-x_y") == "FeatureXYInstanceCount"
    for step in ("clean", "train"):
        parameter = FORECAST.parameter(spec.instance_count_parameter(step))
        assert parameter.type is int and parameter.default == 1
    # both shard by S3 key: clean its input files, train the train split's files
    assert FORECAST.step("clean").input("raw").distribution == SHARDED_BY_S3_KEY
    assert FORECAST.step("train").input("train").distribution == SHARDED_BY_S3_KEY
    assert FORECAST.step("feature").params["train_files"].default >= 1


def test_the_count_comes_from_the_values_else_the_step():
    train, feature = FORECAST.step("train"), FORECAST.step("feature")
    assert FORECAST.instance_count(train, FORECAST.defaults()) == 1
    assert FORECAST.instance_count(train, {**FORECAST.defaults(), "TrainInstanceCount": 4}) == 4
    assert FORECAST.instance_count(feature, {"FeatureInstanceCount": 3}) == 3  # the value wins when given
    assert FORECAST.instance_count(feature, FORECAST.defaults()) == feature.instance_count


@pytest.mark.parametrize("bad", [Parameter("TrainInstanceCount", str, "4"), Parameter("TrainInstanceCount", int, 0)])
def test_a_count_parameter_must_be_a_positive_int(bad):
    parameters = tuple(bad if p.name == bad.name else p for p in FORECAST.parameters)
    with pytest.raises(ValueError, match="holds the instance count of step 'train'"):
        Pipeline("p", "forecast", parameters, FORECAST.steps, FORECAST.gate)


def test_a_parameter_named_like_a_count_of_no_step_is_just_a_parameter():
    parameters = (*FORECAST.parameters, Parameter("ReportInstanceCount", str, "x"))
    assert Pipeline("p", "forecast", parameters, FORECAST.steps, FORECAST.gate).parameter("ReportInstanceCount").default == "x"
