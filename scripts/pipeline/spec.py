"""Each pipeline, declared once, as data: the steps, what feeds them, what they write, their parameters.

Four readers take their names from here and nowhere else: the step scripts (channel, output and
parameter names), the local runner (`localrun`), the tests, and the SageMaker Pipeline definition
compiled from it (`pipelines/`). Importable inside the images: it needs only the standard library
and the light parameter declarations.

Adding a step: declare it below and write its script; the runner, the definition and the tests
pick it up from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Union

from contract.hyperparameters import Param, declared
from tasks.classifier.params import TrainParams

FULLY_REPLICATED = "FullyReplicated"
SHARDED_BY_S3_KEY = "ShardedByS3Key"

# Image roles; the URIs are compile-time inputs (image-uris.json) or pipeline parameters.
PROCESS_IMAGE = "process"
TRAIN_IMAGE = "train"

# account values a step parameter may be bound to (Step.bind_account)
ACCOUNT_ROLE = "role"  # the jobs' execution role
ACCOUNT_MODEL_ROLE = "model-role"  # the role an endpoint's Model runs as (iam/serve.json): deploy passes it
ACCOUNT_IMAGE = "image:"


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: set per execution, with its default declared here."""

    name: str
    type: type
    default: Any
    help: str = ""
    # the definition's default when the spec's (a local one) means nothing in an account: a template
    # of {bucket} and {pipeline}, filled in by the compiler
    cloud_default: str | None = None


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
    # step parameter -> an account value the compiler declares ("role": the execution role ARN,
    # "image:<role>": that image's URI); locally the runner gives its own
    bind_account: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # step parameter -> a value always given (clean's task)
    instance_count: int = 1
    cacheable: bool = True  # steps with side effects (registry, endpoints) never are
    on_gate_pass: bool = False  # runs only when the pipeline's gate passes
    # calls the SageMaker API (registry, endpoints): `--backend sagemaker` in the definition; locally
    # `--backend local --endpoint_url <the local control plane>`, given by the runner
    sagemaker_api: bool = False

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
class TransformStep(Step):
    """A SageMaker Batch Transform job, with the CreateModel step that gives it its model.

    The serving image (`image`, run as `serve`) scores every object under the `data` input; the
    `model` input is a training step's model.tar.gz (FromStep) or a pipeline parameter holding a
    model package ARN (FromParameter). Never cached (decisions.md): it scores gated models only,
    and a new object at the same S3 URI must be scored again. The fields are CreateTransformJob's;
    None leaves the value to the container's /execution-parameters, then the platform's default.
    """

    outputs: tuple[Output, ...] = (Output("transform", ("<key>.out",)),)
    cacheable: bool = False
    content_type: str = "text/csv"
    accept: str = "text/csv"
    split_type: str = "Line"  # Line | None (None: one request per object, refused above the payload limit)
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int | None = None  # 1..100; None: the container's floor(100 / workers)
    max_concurrent_transforms: int | None = None  # None: the container's worker count
    assemble_with: str = "Line"
    input_filter: str | None = None  # DataProcessing, JSONPath (at most 63 characters)
    join_source: str | None = None  # "Input": the output line follows the input line
    output_filter: str | None = None
    invocation_timeout: int = 600  # ModelClientConfig; reaches the server as SAGEMAKER_MODEL_SERVER_TIMEOUT
    max_retries: int = 3
    environment: Mapping[str, str] = field(default_factory=dict)  # the Model's Environment (at most 16)
    instance_type: str = "ml.m5.xlarge"
    after: tuple[str, ...] = ()  # steps it must follow without reading their outputs (register: gated models only)


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

    def instance_count(self, step: Step, values: Mapping[str, Any]) -> int:
        """The step's instance count under these parameter values: its `<Step>InstanceCount`
        parameter where the spec declares one, else the step's own."""
        return int(values.get(instance_count_parameter(step.name), step.instance_count))


def instance_count_parameter(step_name: str) -> str:
    """The pipeline parameter that holds a step's InstanceCount: `TrainInstanceCount` for `train`.

    The compiler declares one for every step (default: the step's instance_count); a pipeline may
    declare it among its own parameters instead (an int), and then the local runner reads it too.
    """
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", step_name)) + "InstanceCount"


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
        for param, value in step.bind_account.items():
            if param not in step.params or param in step.bind or not (
                    value in (ACCOUNT_ROLE, ACCOUNT_MODEL_ROLE) or value.startswith(ACCOUNT_IMAGE)):
                raise ValueError(f"step '{step.name}' binds '{param}' to account value '{value}': an undeclared or already "
                                 f"bound parameter, or not '{ACCOUNT_ROLE}' / '{ACCOUNT_MODEL_ROLE}' / '{ACCOUNT_IMAGE}<role>'")
        for param in step.fixed:
            if param not in step.params or param in step.bind or param in step.bind_account:
                raise ValueError(f"step '{step.name}' fixes '{param}': an undeclared or already bound parameter")
        if isinstance(step, TransformStep):
            _check_transform(step)
            unknown = [name for name in step.after if name not in seen]
            if unknown:
                raise ValueError(f"step '{step.name}' follows {unknown}, not declared before it")
        if step.sagemaker_api and not {"backend", "endpoint_url"} <= set(step.params):
            raise ValueError(f"step '{step.name}' calls the SageMaker API but declares no 'backend' and 'endpoint_url'")
        seen[step.name] = step
    for parameter in pipeline.parameters:
        counted = [s for s in pipeline.steps if instance_count_parameter(s.name) == parameter.name]
        if counted and (parameter.type is not int or not isinstance(parameter.default, int) or parameter.default < 1):
            raise ValueError(f"parameter '{parameter.name}' holds the instance count of step '{counted[0].name}': an int of 1 or more")
    if pipeline.gate:
        seen[pipeline.gate.step].output(pipeline.gate.output)
        if pipeline.gate.parameter not in parameters:
            raise ValueError(f"gate reads undeclared parameter '{pipeline.gate.parameter}'")


def _check_transform(step: TransformStep) -> None:
    """CreateTransformJob's own rules, and decisions.md's, when the spec is built."""
    names = {i.name for i in step.inputs}
    if names != {"data", "model"}:
        raise ValueError(f"transform step '{step.name}' takes inputs 'data' and 'model', not {sorted(names)}")
    if step.split_type not in ("Line", "None") or step.assemble_with not in ("Line", "None"):
        raise ValueError(f"transform step '{step.name}': SplitType and AssembleWith are Line or None")
    if step.batch_strategy not in ("MultiRecord", "SingleRecord"):
        raise ValueError(f"transform step '{step.name}': BatchStrategy {step.batch_strategy!r}")
    if step.max_payload_mb is not None and not 1 <= step.max_payload_mb <= 100:
        raise ValueError(f"transform step '{step.name}': MaxPayloadInMB {step.max_payload_mb}: use 1..100 "
                         "(0, unbounded, is refused: requests must stay memory-bounded)")
    if step.max_payload_mb and step.max_concurrent_transforms and step.max_payload_mb * step.max_concurrent_transforms > 100:
        raise ValueError(f"transform step '{step.name}': MaxConcurrentTransforms x MaxPayloadInMB exceeds 100")
    if step.join_source not in (None, "Input", "None") or not 1 <= step.invocation_timeout <= 3600 \
            or not 0 <= step.max_retries <= 3 or len(step.environment) > 16:
        raise ValueError(f"transform step '{step.name}': JoinSource, InvocationsTimeoutInSeconds (1-3600), "
                         "InvocationsMaxRetries (0-3) or Environment (at most 16 entries) out of range")
    for name in ("input_filter", "output_filter"):
        value = getattr(step, name)
        if value is not None and len(value) > 63:
            raise ValueError(f"transform step '{step.name}': {name} {value!r} is longer than 63 characters")


def transform_steps(pipeline: "Pipeline") -> list[TransformStep]:
    return [s for s in pipeline.steps if isinstance(s, TransformStep)]


# The feature step's batch input for a transform: the test split as headerless CSV, the target first,
# then the features in training order. DataProcessing sends the features ($[1:]) and keeps the target
# beside the score ($[0,-2,-1]: target, probability, label): line N of the .out is line N of the input.
BATCH_TEST_FILE = "test.csv"
BATCH_JOIN = {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-2,-1]"}

# ---- the classifier pipeline: roles -> clean -> feature -> train -> evaluation -> gate -> register -> deploy

EVALUATION_FILE = "evaluation.json"
EVALUATION_REPORT = "evaluation_report.html"  # for people: curves, confusion matrix, intervals, features
BASELINE_FILES = ("statistics.json", "constraints.json")  # Model Monitor baselines of the training split
DRIFT_FILES = ("constraint_violations.json", "statistics.json", "drift_table.csv", "drift_report.html")
DECISION_FILE = "decision.json"  # register's output: status, reason, both scores, the package
COMPARISON_REPORT = "comparison_report.html"  # register's, when a champion was re-scored: both side by side
DEPLOYMENT_FILE = "deployment.json"  # deploy's output: the endpoint, what it serves, its URL
GATE_JSON_PATH = "gate.value"  # task-neutral: evaluation.json's gate section (pipeline.evaluation_file)
SPLITS = ("train", "validation", "test")

# named where the data enters (clean's `task`), then read from the inputs: classifier (binary or
# multi-class, by the target's classes) and regression share the tabular steps (tasks.classifier)
TASKS = ("classifier", "regression", "forecast")

CLEAN_PARAMS = {
    "task": Param(str, "classifier", "what the data is for", choices=TASKS),
    "target": Param(str, help="the target column"),
    "positive_label": Param(str, "", help="the target value that means positive (1): binary targets only; "
                            "a target with more classes is multi-class"),
    "id_columns": Param(list, [], help="columns to drop (row ids), comma-separated"),
    "numeric_columns": Param(list, [], help="force these columns to be numeric"),
    "categorical_columns": Param(list, [], help="force these columns to be categorical"),
    "text_columns": Param(list, [], help="columns of free text (TF-IDF features)"),
    "datetime_columns": Param(list, [], help="columns of dates (calendar and elapsed-time features)"),
    "feature_columns": Param(list, [], help="keep these as features even when they look like identifiers or constants"),
    "roles": Param(str, "", help='a roles file\'s JSON, {"column": "role"}; the parameters above win over it'),
    "leakage": Param(str, "report", "a column that alone predicts the target almost perfectly: report, or refuse",
                     choices=("report", "refuse")),
    "bad_rows": Param(str, "refuse", "CSV rows with a wrong field count: refuse, or drop and count", choices=("refuse", "drop")),
}
# the roles step: clean's column-role parameters, applied once to a sample of the whole input
ROLES_PARAMS = {
    **CLEAN_PARAMS,
    "sample_rows": Param(int, 200_000, "rows the roles are inferred on: a uniform seeded sample of the whole input "
                         "(every row when it has fewer); the target's classes come from every row", minimum=1000),
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
DRIFT_PARAMS = {
    "fail_on_violation": Param(bool, False, "fail the step when any constraint is violated"),
    "target": Param(str, "", "the target column, not a feature: dropped from the data when present"),
    "ignore_columns": Param(list, [], "columns of the data that are not features (ids, timestamps)"),
    "psi_threshold": Param(float, None, "numeric drift threshold; default: constraints.json's", minimum=0),
    "categorical_psi_threshold": Param(float, None, "categorical drift threshold; default: constraints.json's",
                                       minimum=0),
    "domain_content_threshold": Param(float, None, "share of values inside a categorical domain",
                                      minimum=0, maximum=1),
    "datatype_check_threshold": Param(float, None, "share of values of the baseline's type",
                                      minimum=0, maximum=1),
}

_API_PARAMS = {
    "backend": Param(str, "sagemaker", help="sagemaker (AWS, or endpoint_url) or local (the control plane at endpoint_url)",
                     choices=("sagemaker", "local")),
    "endpoint_url": Param(str, "", help="SageMaker API endpoint URL; default SAGEMAKER_ENDPOINT_URL, empty: AWS"),
    "region": Param(str, ""),
}
REGISTER_PARAMS = {
    "model_package_group": Param(str, help="model package group (created when missing)"),
    "image_uri": Param(str, help="the serving image the package runs in"),
    "model_data_url": Param(str, "", help="where the artifact lives (s3:// or file://); default: the 'model' input's S3Uri"),
    "evaluation_url": Param(str, "", help="evaluation.json's S3 URI for ModelMetrics; default: the 'evaluation' input's"),
    "floor": Param(float, 0.6, help="the gate metric's floor (the pipeline's GateFloor)"),
    "margin": Param(float, 0.001, help="how much the challenger must beat the champion by, in the metric's units"),
    "auto_approve": Param(bool, True, help="approve automatically when the gate passes; false: always a person"),
    **_API_PARAMS,
    "git_commit": Param(str, ""),
    "image_digest": Param(str, ""),
    "instance_types": Param(list, ["ml.m5.large"], help="SupportedRealtimeInferenceInstanceTypes"),
}
DEPLOY_PARAMS = {
    "model_package_group": Param(str, help="model package group to deploy from"),
    "endpoint_name": Param(str, help="endpoint to create or update"),
    "model_package_version": Param(int, 0, help="a named version; 0: the group's latest Approved", minimum=0),
    "role_arn": Param(str, "", help="execution role of the Model (required on AWS)"),
    "instance_type": Param(str, "ml.m5.large"),
    "instance_count": Param(int, 1, minimum=1),
    "capture_percentage": Param(int, 100, help="data capture sampling; 0 turns capture off", minimum=0, maximum=100),
    "capture_destination": Param(str, "", help="s3://bucket/prefix for captured requests and responses"),
    "ab_version": Param(int, 0, help="a second Approved version served beside it (A/B); 0: none", minimum=0),
    "ab_weight": Param(float, 0.1, help="traffic share of the A/B version", minimum=0.0, maximum=1.0),
    "traffic": Param(str, "ALL_AT_ONCE", help="blue/green traffic shift", choices=("ALL_AT_ONCE", "CANARY", "LINEAR")),
    "step_percent": Param(int, 10, help="canary size or linear step, percent of capacity", minimum=1, maximum=100),
    "wait_interval": Param(int, 300, help="seconds between traffic shifts", minimum=0, maximum=3600),
    "termination_wait": Param(int, 300, help="seconds the old fleet is kept for rollback", minimum=0, maximum=3600),
    "alarms": Param(list, [], help="CloudWatch alarm names that roll an update back"),
    "min_instances": Param(int, 1, minimum=1),
    "max_instances": Param(int, 1, help="autoscaling is set up when above min_instances", minimum=1),
    "invocations_per_instance": Param(float, 100.0, help="target of SageMakerVariantInvocationsPerInstance", minimum=1.0),
    "timeout": Param(int, 3600, help="seconds to wait for InService", minimum=1),
    "poll": Param(float, 15.0, help="seconds between DescribeEndpoint calls", minimum=0.0),
    **_API_PARAMS,
}

CLASSIFIER = Pipeline(
    name="classifier",
    task="classifier",
    parameters=(
        Parameter("InputData", str, "data/lending_club.csv", "raw CSV/Parquet: an S3 URI (a local path locally)"),
        Parameter("Target", str, "Class", "the target column"),
        Parameter("PositiveLabel", str, "bad", "the target value that means positive (binary); empty for a "
                  "multi-class target"),
        Parameter("IdColumns", str, "rownames", "row-id columns to drop, comma-separated"),
        Parameter("GateFloor", float, 0.70, "the gate: evaluation's gate value (test AUC; one-vs-rest macro AUC "
                  "for a multi-class target) must reach this; register's absolute floor too"),
        Parameter("GateMargin", float, 0.001, "register: how much the challenger must beat the champion by (gate units)"),
        Parameter("ModelPackageGroup", str, "classifier", "the model package group register adds to and deploy reads"),
        Parameter("EndpointName", str, "classifier", "the endpoint deploy creates or updates"),
        Parameter("DataCaptureS3Uri", str, "", "where the endpoint captures requests and responses "
                  "(locally: a folder under the work directory)", cloud_default="s3://{bucket}/{pipeline}/data-capture"),
    ),
    steps=(
        # the column roles, inferred once on the whole input (a stated sample of it): every clean
        # instance (CleanInstanceCount) applies the same ones, so the shards agree by construction
        ProcessingStep(
            "roles", "roles.py", PROCESS_IMAGE,
            inputs=(Input("raw", FromParameter("InputData")),),
            outputs=(Output("roles", ("roles.json",)),),
            params=ROLES_PARAMS,
            bind={"target": "Target", "positive_label": "PositiveLabel", "id_columns": "IdColumns"},
            fixed={"task": "classifier"},
        ),
        ProcessingStep(
            "clean", "clean.py", PROCESS_IMAGE,
            inputs=(Input("raw", FromParameter("InputData"), SHARDED_BY_S3_KEY), Input("roles", FromStep("roles", "roles"))),
            outputs=(Output("cleaned", ("cleaned-<host>.parquet", "schema-<host>.json", "report-<host>.json")),),
            params=CLEAN_PARAMS,
            bind={"target": "Target"},
            fixed={"task": "classifier"},
        ),
        ProcessingStep(
            "feature", "feature.py", PROCESS_IMAGE,
            inputs=(Input("cleaned", FromStep("clean", "cleaned")),),
            outputs=(*(Output(s, (f"{s}.parquet",)) for s in SPLITS), Output("preprocessor", ("preprocessor.joblib", "schema.json")),
                     Output("baseline", BASELINE_FILES), Output("batch", (BATCH_TEST_FILE,))),
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
            outputs=(Output("evaluation", (EVALUATION_FILE, EVALUATION_REPORT)),),
            params=EVALUATION_PARAMS,
        ),
        # the test split against the training baseline: a fresh split of the same data must raise no
        # alarm; the same step checks new batches or captured requests (make drift)
        ProcessingStep(
            "drift", "drift.py", PROCESS_IMAGE,
            inputs=(Input("baseline", FromStep("feature", "baseline")), Input("data", FromStep("feature", "test"))),
            outputs=(Output("drift", DRIFT_FILES),),
            params=DRIFT_PARAMS,
            bind={"target": "Target", "ignore_columns": "IdColumns"},
        ),
        # after the gate, with side effects: never cached
        ProcessingStep(
            "register", "register.py", PROCESS_IMAGE,
            inputs=(
                Input("model", FromStep("train", "model")),
                Input("evaluation", FromStep("evaluation", "evaluation")),
                Input("test", FromStep("feature", "test")),  # the rows evaluation scored: both models are scored on them
                Input("baseline", FromStep("feature", "baseline")),  # registered as the drift-check baselines
            ),
            outputs=(Output("registration", (DECISION_FILE,)),),
            params=REGISTER_PARAMS,
            bind={"model_package_group": "ModelPackageGroup", "floor": "GateFloor", "margin": "GateMargin"},
            bind_account={"image_uri": ACCOUNT_IMAGE + TRAIN_IMAGE},  # the train image serves (`serve`)
            cacheable=False, on_gate_pass=True, sagemaker_api=True,
        ),
        ProcessingStep(
            "deploy", "deploy.py", PROCESS_IMAGE,
            # register's decision: runs after it, and knows whether this run's model was approved
            inputs=(Input("registration", FromStep("register", "registration")),),
            outputs=(Output("deployment", (DEPLOYMENT_FILE,)),),
            params=DEPLOY_PARAMS,
            bind={"model_package_group": "ModelPackageGroup", "endpoint_name": "EndpointName",
                  "capture_destination": "DataCaptureS3Uri"},
            bind_account={"role_arn": ACCOUNT_MODEL_ROLE},  # the endpoint's role, not the job's
            cacheable=False, on_gate_pass=True, sagemaker_api=True,
        ),
        # the registered model scores the test split as a Batch Transform job (with its CreateModel step)
        TransformStep(
            "transform", "serve", TRAIN_IMAGE,
            inputs=(Input("data", FromStep("feature", "batch")), Input("model", FromStep("train", "model"))),
            on_gate_pass=True, after=("register",), **BATCH_JOIN,
        ),
    ),
    gate=Gate(
        "evaluation", "evaluation", EVALUATION_FILE, GATE_JSON_PATH, "GateFloor",
        fail_message="the model's gate value (test AUC) is below GateFloor: not registered",
    ),
)

# ---- the forecast pipeline: clean -> feature (time split) -> train (one model per series) -> evaluation -> gate

FORECAST_SCHEMA_FILE = "schema.json"
FORECAST_CLEAN_PARAMS = {
    "task": Param(str, "forecast", "what the data is for", choices=TASKS),
    "series_column": Param(str, "", "the series id column; empty: the data is one series"),
    "time_column": Param(str, help="the timestamp column"),
    "value_column": Param(str, help="the value column"),
    "frequency": Param(str, "", "pandas frequency of the grid (h, D, MS, ...); empty: inferred"),
    "max_gap": Param(int, 3, "gaps of at most this many points are interpolated; longer ones stay missing", minimum=0),
    "horizon": Param(int, 24, "points to forecast: series need room for a test and a validation window", minimum=1),
    "bad_rows": Param(str, "refuse", "CSV rows with a wrong field count: refuse, or drop and count", choices=("refuse", "drop")),
}
FORECAST_FEATURE_PARAMS = {
    "horizon": Param(int, 24, "the test and validation windows, in points", minimum=1),
    # the train channel is ShardedByS3Key: each training host gets whole files, about 1/N of them
    "train_files": Param(int, 8, "files of the train split, each series in one (by the stable hash of its id); "
                         "hosts beyond this many get no series", minimum=1),
}
FORECAST_TRAIN_PARAMS = {
    "season": Param(int, 0, "seasonal period in points; 0: chosen from the frequency and the data", minimum=0),
    "workers": Param(int, 0, "processes fitting batches of series; 0: every core of the host", minimum=0),
    "batch_size": Param(int, 500, "series per batch (and per checkpoint)", minimum=1),
}

FORECAST = Pipeline(
    name="forecast",
    task="forecast",
    parameters=(
        Parameter("InputData", str, "data/us_employment.csv", "long-format CSV/Parquet file or folder (S3 prefix)"),
        Parameter("SeriesColumn", str, "Series_ID", "the series id column"),
        Parameter("TimeColumn", str, "Month", "the timestamp column"),
        Parameter("ValueColumn", str, "Employed", "the value column"),
        Parameter("Horizon", int, 24, "points to forecast"),
        # the compiler's <Step>InstanceCount, declared here so that the local runner reads them too
        # (`make run TASK=forecast HOSTS=4` is TrainInstanceCount=4, and CleanInstanceCount=4 when the input has 4+ files)
        Parameter("CleanInstanceCount", int, 1, "instances of clean: each cleans its files of InputData (ShardedByS3Key)"),
        Parameter("TrainInstanceCount", int, 1, "training hosts: each fits its files of the train split "
                  "(ShardedByS3Key; TrainFiles of them) and hands its part to algo-1"),
        Parameter("TrainFiles", int, 8, "files of the train split (feature): at least TrainInstanceCount, hosts "
                  "beyond it get no series; a multiple of it spreads the series evenly"),
        Parameter("GateFloor", float, 0.0, "the gate: skill against seasonal naive (1 - MASE / MASE of seasonal "
                  "naive) must reach this; 0: at least as good as seasonal naive"),
    ),
    steps=(
        ProcessingStep(
            "clean", "clean.py", PROCESS_IMAGE,
            inputs=(Input("raw", FromParameter("InputData"), SHARDED_BY_S3_KEY),),
            outputs=(Output("cleaned", ("cleaned-<host>.parquet", "schema-<host>.json", "report-<host>.json")),),
            params=FORECAST_CLEAN_PARAMS,
            bind={"series_column": "SeriesColumn", "time_column": "TimeColumn", "value_column": "ValueColumn",
                  "horizon": "Horizon"},
            fixed={"task": "forecast"},
        ),
        ProcessingStep(
            "feature", "feature.py", PROCESS_IMAGE,
            inputs=(Input("cleaned", FromStep("clean", "cleaned")),),
            outputs=(Output("train", ("train-<k>.parquet",)), *(Output(s, (f"{s}.parquet",)) for s in SPLITS[1:]),
                     Output("schema", (FORECAST_SCHEMA_FILE,))),
            params=FORECAST_FEATURE_PARAMS,
            bind={"horizon": "Horizon", "train_files": "TrainFiles"},
        ),
        TrainingStep(
            "train", "train.py", TRAIN_IMAGE,
            inputs=(
                Input("train", FromStep("feature", "train"), SHARDED_BY_S3_KEY),  # a series lives in one file
                Input("validation", FromStep("feature", "validation")),
                Input("schema", FromStep("feature", "schema")),
            ),
            params=FORECAST_TRAIN_PARAMS,
            metrics=("train:series_done",),
        ),
        ProcessingStep(
            "evaluation", "evaluation.py", PROCESS_IMAGE,
            inputs=(Input("model", FromStep("train", "model")), Input("test", FromStep("feature", "test"))),
            outputs=(Output("evaluation", (EVALUATION_FILE, EVALUATION_REPORT, "forecasts.parquet",
                                              "forecasts-<host>.parquet", "per_series.csv")),),
            params=EVALUATION_PARAMS,
        ),
    ),
    gate=Gate(
        "evaluation", "evaluation", EVALUATION_FILE, GATE_JSON_PATH, "GateFloor",
        fail_message="the forecasts' skill against seasonal naive is below GateFloor",
    ),
)

# ---- the score pipeline: weekly (or nightly) scoring of new data with an approved model package

SCORE = Pipeline(
    name="score",
    task="classifier",
    parameters=(
        Parameter("InputData", str, "data/score", "headerless CSV files to score, features in training order: "
                  "an S3 prefix (a local file or folder locally)"),
        Parameter("ModelPackageArn", str, "", "the approved model package to score with (empty locally: the "
                  "group's latest Approved; give it when starting the pipeline)",
                  cloud_default="arn:aws:sagemaker:us-east-1:000000000000:model-package/classifier/1"),
        Parameter("ModelPackageGroup", str, "classifier", "locally, the group whose latest Approved package "
                  "scores when ModelPackageArn is empty"),
    ),
    steps=(
        TransformStep(
            "transform", "serve", TRAIN_IMAGE,
            inputs=(Input("data", FromParameter("InputData")), Input("model", FromParameter("ModelPackageArn"))),
        ),
    ),
)


# ---- the regression pipeline: the classifier's steps on a numeric target (clean names the task)

def _regression() -> Pipeline:
    dropped = {"PositiveLabel"}
    changed = {
        "InputData": {"default": "data/diabetes.csv"},
        "Target": {"default": "progression", "help": "the numeric target column"},
        "IdColumns": {"default": ""},
        "GateFloor": {"default": 0.1, "help": "the gate: skill against the training mean (1 - RMSE / RMSE of predicting "
                      "the training mean) must reach this; register's absolute floor too"},
        "ModelPackageGroup": {"default": "regression"},
        "EndpointName": {"default": "regression"},
    }
    parameters = tuple(replace(p, **changed.get(p.name, {})) for p in CLASSIFIER.parameters if p.name not in dropped)
    steps = []
    for step in CLASSIFIER.steps:
        if step.name in ("roles", "clean"):
            step = replace(step, fixed={"task": "regression"},
                           bind={k: v for k, v in step.bind.items() if v not in dropped})
        elif step.name == "train":
            step = replace(step, metrics=("validation:mse", "validation:rmse", "final:validation:rmse",
                                          "final:validation:r2"))
        steps.append(step)
    gate = replace(CLASSIFIER.gate, fail_message="the model's skill against the training mean is below GateFloor: "
                   "not registered")
    return Pipeline(name="regression", task="regression", parameters=parameters, steps=tuple(steps), gate=gate)


REGRESSION = _regression()

PIPELINES = {p.name: p for p in (CLASSIFIER, REGRESSION, FORECAST, SCORE)}
BY_TASK = {p.task: p for p in (CLASSIFIER, REGRESSION, FORECAST)}


def pipeline(name: str) -> Pipeline:
    if name not in PIPELINES:
        raise KeyError(f"no pipeline '{name}'; declared: {sorted(PIPELINES)}")
    return PIPELINES[name]
