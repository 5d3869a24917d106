"""The spec is the one declaration: scripts take their names from it, and bad wiring fails when it is built."""

import importlib.util
from dataclasses import replace

import pytest

from pipeline import spec
from pipeline.spec import CLASSIFIER, FromStep, Input, Output, Pipeline, ProcessingStep
from localrun.engines import SCRIPTS


def load_script(name: str):
    module_spec = importlib.util.spec_from_file_location(f"step_{name[:-3]}", SCRIPTS / name)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)  # main() is guarded: importing runs nothing
    return module


@pytest.mark.parametrize("step", [s for s in CLASSIFIER.steps if not isinstance(s, spec.TransformStep)],
                         ids=lambda s: s.name)  # a transform runs the serving image's `serve`
def test_every_step_script_exists_and_reads_its_own_declaration(step):
    assert (SCRIPTS / step.script).is_file()
    assert load_script(step.script).STEP is step


def test_train_hyperparameters_are_the_training_cores_own_declaration():
    from dataclasses import fields

    from tasks.classifier.params import TrainParams

    params = CLASSIFIER.step("train").params
    assert {f.name: f.default for f in fields(TrainParams)} == {k: p.default for k, p in params.items() if k != "threshold"}
    assert params["learning_rate"].maximum == 1.0 and params["n_estimators"].minimum == 1


def test_the_gate_reads_a_declared_output_and_parameter():
    gate = CLASSIFIER.gate
    assert gate.file in CLASSIFIER.step(gate.step).output(gate.output).files
    assert CLASSIFIER.parameter(gate.parameter).type is float


def test_inputs_must_name_an_earlier_steps_declared_output():
    roles, clean, feature = CLASSIFIER.steps[:3]
    assert [s.name for s in CLASSIFIER.steps[:3]] == ["roles", "clean", "feature"]
    with pytest.raises(ValueError, match="input 'cleaned' reads 'clean', not declared before it"):
        Pipeline("p", "classifier", CLASSIFIER.parameters, (roles, feature, clean))
    with pytest.raises(ValueError, match="input 'roles' reads 'roles', not declared before it"):
        Pipeline("p", "classifier", CLASSIFIER.parameters, (clean, roles, feature))
    typo = replace(feature, inputs=(Input("cleaned", FromStep("clean", "claened")),))
    with pytest.raises(KeyError, match="step 'clean' output 'claened' is not declared"):
        Pipeline("p", "classifier", CLASSIFIER.parameters, (roles, clean, typo))


def test_bindings_and_distributions_are_checked():
    roles, clean = CLASSIFIER.step("roles"), CLASSIFIER.step("clean")
    with pytest.raises(ValueError, match="binds 'target' to 'Label'"):
        Pipeline("p", "classifier", CLASSIFIER.parameters, (roles, replace(clean, bind={"target": "Label"})))
    with pytest.raises(ValueError, match="distribution 'Sharded'"):
        Pipeline("p", "classifier", CLASSIFIER.parameters, (roles, clean.with_distribution("Sharded")))


def test_a_new_step_needs_only_its_declaration():
    extra = ProcessingStep("audit", "evaluation.py", spec.PROCESS_IMAGE,
                           inputs=(Input("model", FromStep("train", "model")), Input("test", FromStep("feature", "test"))),
                           outputs=(Output("evaluation", ("evaluation.json",)),))
    pipeline = Pipeline("p", "classifier", CLASSIFIER.parameters, (*CLASSIFIER.steps, extra), CLASSIFIER.gate)
    assert pipeline.step("audit").input("model").source == FromStep("train", "model")


def test_the_spec_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys; import pipeline.spec; print(sorted(m for m in ('pandas','numpy','sklearn','joblib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SCRIPTS), "PATH": ""}).stdout
    assert out.strip() == "[]"
