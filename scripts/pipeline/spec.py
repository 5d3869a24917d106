"""Each pipeline, declared once, as data: the steps, what feeds them, what they write, their parameters.

Four readers take their names from here and nowhere else: the step scripts (channel, output and
parameter names), the local runner (`localrun`), the tests, and the SageMaker Pipeline definition
compiled from it (`pipelines/`). Importable inside the images: it needs only the standard library
and the light parameter declarations.

Adding a step: declare it below and write its script; the runner, the definition and the tests
pick it up from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Union

from contract.hyperparameters import Param, declared
from tasks.classifier.params import TrainParams

FULLY_REPLICATED = "FullyReplicated"
SHARDED_BY_S3_KEY = "ShardedByS3Key"

# Image roles; the URIs are compile-time inputs (image-uris.json) or pipeline parameters.
PROCESS_IMAGE = "process"
TRAIN_IMAGE = "train"


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: set per execution, with its default declared here."""

    name: str
    type: type
    default: Any
    help: str = ""


@dataclass(frozen=True)
class FromStep:
    """An input fed by another step's named output (its S3 prefix)."""

    step: str
    output: str


@dataclass(frozen=True)
class FromParameter:
    """An input fed by data entering the pipeline: the S3 URI held by a pipeline parameter."""

    parameter: str


@dataclass(frozen=True)
class Input:
    name: str  # the channel (training) or ProcessingInput name the script reads
    source: Union[FromStep, FromParameter]
    distribution: str = FULLY_REPLICATED


@dataclass(frozen=True)
class Output:
    name: str  # the ProcessingOutput name, or "model" for a training job's model.tar.gz
    files: tuple[str, ...] = ()  # what a later reader may rely on (owned by the format's module)


@dataclass(frozen=True)
class Step:
    name: str
    script: str  # under scripts/ (/opt/program in the images)
    image: str
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    params: Mapping[str, Param] = field(default_factory=dict)
    bind: Mapping[str, str] = field(default_factory=dict)  # step parameter -> pipeline parameter
    instance_count: int = 1
    cacheable: bool = True  # steps with side effects (registry, endpoints) never are
    on_gate_pass: bool = False  # runs only when the pipeline's gate passes

    def input(self, name: str) -> Input:
        return _named(self.inputs, name, f"step '{self.name}' input")

    def output(self, name: str) -> Output:
        return _named(self.outputs, name, f"step '{self.name}' output")

    def with_distribution(self, distribution: str) -> "Step":
        """The same step with every input delivered one way (local mode refuses ShardedByS3Key)."""
        return replace(self, inputs=tuple(replace(i, distribution=distribution) for i in self.inputs))


@dataclass(frozen=True)
class ProcessingStep(Step):
    """A SageMaker processing job: ContainerEntrypoint python3 <script>, parameters as arguments."""


@dataclass(frozen=True)
class TrainingStep(Step):
    """A SageMaker training job run by the sagemaker-training toolkit; parameters as hyperparameters."""

    outputs: tuple[Output, ...] = (Output("model", ("model.tar.gz",)),)
    metrics: tuple[str, ...] = ()  # names logged as METRIC lines (contract.metric_definition)
    spot: bool = True
    max_run_seconds: int = 3600
    max_wait_seconds: int = 7200  # spot: run time plus waiting for capacity
    checkpoints: bool = True


@dataclass(frozen=True)
class Gate:
    """A ConditionStep: JsonGet(json_path) of a file a step wrote, against a pipeline parameter."""

    step: str
    output: str
    file: str
    json_path: str
    parameter: str  # the floor
    fail_message: str


@dataclass(frozen=True)
class Pipeline:
    name: str
    task: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    gate: Gate | None = None

    def __post_init__(self) -> None:
        _check(self)

    def step(self, name: str) -> Step:
        return _named(self.steps, name, f"pipeline '{self.name}' step")

    def parameter(self, name: str) -> Parameter:
        return _named(self.parameters, name, f"pipeline '{self.name}' parameter")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}


def _named(items, name: str, what: str):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"{what} '{name}' is not declared; declared: {[i.name for i in items]}")


def _check(pipeline: Pipeline) -> None:
    """Wiring errors surface when the spec is built, not when a job fails an hour in."""
    seen: dict[str, Step] = {}
    parameters = {p.name for p in pipeline.parameters}
    for step in pipeline.steps:
        if step.name in seen:
            raise ValueError(f"step '{step.name}' declared twice")
        for item in step.inputs:
            source = item.source
            if isinstance(source, FromStep):
                if source.step not in seen:
                    raise ValueError(f"step '{step.name}' input '{item.name}' reads '{source.step}', not declared before it")
                seen[source.step].output(source.output)
            elif source.parameter not in parameters:
                raise ValueError(f"step '{step.name}' input '{item.name}' reads undeclared parameter '{source.parameter}'")
            if item.distribution not in (FULLY_REPLICATED, SHARDED_BY_S3_KEY):
                raise ValueError(f"step '{step.name}' input '{item.name}': distribution {item.distribution!r}")
        for param, parameter in step.bind.items():
            if param not in step.params or parameter not in parameters:
                raise ValueError(f"step '{step.name}' binds '{param}' to '{parameter}': one of them is not declared")
        seen[step.name] = step
    if pipeline.gate:
        seen[pipeline.gate.step].output(pipeline.gate.output)
        if pipeline.gate.parameter not in parameters:
            raise ValueError(f"gate reads undeclared parameter '{pipeline.gate.parameter}'")


# ---- the classifier pipeline: clean -> feature -> train -> evaluation -> gate ----------------------

EVALUATION_FILE = "evaluation.json"
GATE_JSON_PATH = "gate.value"  # task-neutral: evaluation.json's gate section (pipeline.evaluation_file)
SPLITS = ("train", "validation", "test")

CLEAN_PARAMS = {
    "target": Param(str, help="the target column"),
    "positive_label": Param(str, help="the target value that means positive (1)"),
    "id_columns": Param(list, [], help="columns to drop (row ids), comma-separated"),
    "numeric_columns": Param(list, [], help="force these columns to be numeric"),
    "categorical_columns": Param(list, [], help="force these columns to be categorical"),
    "bad_rows": Param(str, "refuse", "CSV rows with a wrong field count: refuse, or drop and count", choices=("refuse", "drop")),
}
FEATURE_PARAMS = {
    "validation_fraction": Param(float, 0.15, "share of rows for validation", minimum=0.01, maximum=0.5),
    "test_fraction": Param(float, 0.15, "share of rows for test", minimum=0.01, maximum=0.5),
    "seed": Param(int, 42, "seed of the split"),
}
TRAIN_PARAMS = {
    **declared(TrainParams),
    "threshold": Param(float, None, "decision threshold; default: the F1-best on validation", minimum=0.0, maximum=1.0),
}
EVALUATION_PARAMS = {"seed": Param(int, 0, "seed of the bootstrap standard deviations")}

CLASSIFIER = Pipeline(
    name="classifier",
    task="classifier",
    parameters=(
        Parameter("InputData", str, "data/lending_club.csv", "raw CSV/Parquet: an S3 URI (a local path locally)"),
        Parameter("Target", str, "Class", "the target column"),
        Parameter("PositiveLabel", str, "bad", "the target value that means positive"),
        Parameter("IdColumns", str, "rownames", "row-id columns to drop, comma-separated"),
        Parameter("GateFloor", float, 0.70, "the gate: evaluation's gate value (test AUC) must reach this"),
    ),
    steps=(
        ProcessingStep(
            "clean", "clean.py", PROCESS_IMAGE,
            inputs=(Input("raw", FromParameter("InputData"), SHARDED_BY_S3_KEY),),
            outputs=(Output("cleaned", ("cleaned-<host>.parquet", "schema-<host>.json", "report-<host>.json")),),
            params=CLEAN_PARAMS,
            bind={"target": "Target", "positive_label": "PositiveLabel", "id_columns": "IdColumns"},
        ),
        ProcessingStep(
            "feature", "feature.py", PROCESS_IMAGE,
            inputs=(Input("cleaned", FromStep("clean", "cleaned")),),
            outputs=(*(Output(s, (f"{s}.parquet",)) for s in SPLITS), Output("preprocessor", ("preprocessor.joblib", "schema.json"))),
            params=FEATURE_PARAMS,
        ),
        TrainingStep(
            "train", "train.py", TRAIN_IMAGE,
            inputs=(
                Input("train", FromStep("feature", "train")),
                Input("validation", FromStep("feature", "validation")),
                Input("preprocessor", FromStep("feature", "preprocessor")),
            ),
            params=TRAIN_PARAMS,
            metrics=("validation:auc", "validation:logloss", "final:validation:auc", "final:validation:logloss"),
        ),
        ProcessingStep(
            "evaluation", "evaluation.py", PROCESS_IMAGE,
            inputs=(Input("model", FromStep("train", "model")), Input("test", FromStep("feature", "test"))),
            outputs=(Output("evaluation", (EVALUATION_FILE,)),),
            params=EVALUATION_PARAMS,
        ),
    ),
    gate=Gate(
        "evaluation", "evaluation", EVALUATION_FILE, GATE_JSON_PATH, "GateFloor",
        fail_message="the model's gate value (test AUC) is below GateFloor: not registered",
    ),
)

PIPELINES = {p.name: p for p in (CLASSIFIER,)}


def pipeline(name: str) -> Pipeline:
    if name not in PIPELINES:
        raise KeyError(f"no pipeline '{name}'; declared: {sorted(PIPELINES)}")
    return PIPELINES[name]
