"""Transform steps are checked when the spec is built: CreateTransformJob's ranges, decisions.md's refusals
(an unbounded payload), the two inputs, and the steps they follow."""

from dataclasses import replace

import pytest

from pipeline import spec
from pipeline.spec import CLASSIFIER, SCORE, TransformStep


def _with(step: TransformStep, pipeline=SCORE, **changes):
    return spec.Pipeline(pipeline.name, pipeline.task, pipeline.parameters, (replace(step, **changes),))


def test_declared_transforms_follow_decisions():
    transform = CLASSIFIER.step("transform")
    assert transform.on_gate_pass and not transform.cacheable and transform.after == ("register",)
    assert [s.name for s in CLASSIFIER.steps].index("register") < [s.name for s in CLASSIFIER.steps].index("transform")
    assert transform.input("model").source == spec.FromStep("train", "model")
    assert transform.input("data").source == spec.FromStep("feature", "batch")
    assert spec.BATCH_TEST_FILE in CLASSIFIER.step("feature").output("batch").files
    score = SCORE.step("transform")
    assert score.input("model").source == spec.FromParameter("ModelPackageArn") and not score.cacheable
    assert spec.pipeline("score") is SCORE and "score" not in spec.BY_TASK


@pytest.mark.parametrize("changes, message", [
    ({"max_payload_mb": 0}, "MaxPayloadInMB 0"),
    ({"max_payload_mb": 60, "max_concurrent_transforms": 2}, "exceeds 100"),
    ({"split_type": "RecordIO"}, "SplitType"),
    ({"batch_strategy": "MULTI_RECORD"}, "BatchStrategy"),
    ({"invocation_timeout": 3601}, "InvocationsTimeoutInSeconds"),
    ({"output_filter": "$[" + "0," * 40 + "]"}, "longer than 63"),
    ({"environment": {f"V{i}": "x" for i in range(17)}}, "at most 16"),
    ({"inputs": (spec.Input("data", spec.FromParameter("InputData")),)}, "takes inputs 'data' and 'model'"),
])
def test_bad_transform_settings_fail_when_the_spec_is_built(changes, message):
    with pytest.raises(ValueError, match=message):
        _with(SCORE.step("transform"), **changes)


def test_a_transform_follows_only_steps_declared_before_it():
    with pytest.raises(ValueError, match=r"follows \['register'\]"):
        _with(SCORE.step("transform"), after=("register",))
