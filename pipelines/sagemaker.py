"""The SageMaker Pipeline definition, compiled from a spec pipeline with the SageMaker Python SDK (2.x).

    compile(spec.CLASSIFIER, CompileInputs(...)) -> the definition JSON (sorted keys: stable bytes)

Processing steps run `python3 /opt/program/<script>` from their image (the scripts are in the
images: no code upload, nothing local hashed into an S3 key); training steps run the image's
`train` (the sagemaker-training toolkit) with SAGEMAKER_PROGRAM=<script>. Bound step parameters
become `--name value` container arguments (processing) or hyperparameters (training), their values
the pipeline parameters. The gate is a ConditionStep on JsonGet(PropertyFile) >= its floor
parameter: the spec's `on_gate_pass` steps run when it holds, else a FailStep says why.

The SDK works offline here: dummy credentials, a fixed region, explicit S3 locations everywhere and
no SDK defaults file (a user's config.yaml would otherwise change the definition's bytes).
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from dataclasses import replace
from typing import Any, Iterator, Mapping

import boto3
import sagemaker.utils as sdk_utils
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterBoolean, ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline as SdkPipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import CacheConfig, CreateModelStep
from sagemaker.workflow.steps import ProcessingStep as SdkProcessingStep
from sagemaker.workflow.steps import TrainingStep as SdkTrainingStep
from sagemaker.workflow.steps import TransformStep as SdkTransformStep

from common.errors import ConfigError
from contract.hyperparameters import REQUIRED
from contract.metrics import metric_definition
from pipeline import spec

from .inputs import CompileInputs

PROGRAM_DIR = "/opt/program"  # where the images keep scripts/ (Dockerfile.*: COPY scripts/ /opt/program/)
PROCESSING_DIR = "/opt/ml/processing"  # contract.jobs: inputs under input/<name>, outputs under output/<name>
CHECKPOINT_DIR = "/opt/ml/checkpoints"  # contract.jobs.checkpoint_dir's default
TELEMETRY_OFF = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}

_SDK_PARAMETER = {str: ParameterString, float: ParameterFloat, int: ParameterInteger, bool: ParameterBoolean}
_KIND_NAMES = {spec.ProcessingStep: "Processing", spec.TrainingStep: "Training", spec.TransformStep: "Transform"}


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name))


def gate_step_name(gate: spec.Gate) -> str:
    return f"{gate.step}-gate"


def fail_step_name(gate: spec.Gate) -> str:
    return f"{gate.step}-gate-failed"


def property_file_name(gate: spec.Gate) -> str:
    return f"{camel(gate.output)}File"


def offline_session(inputs: CompileInputs, boto_session: boto3.Session | None = None) -> PipelineSession:
    """A PipelineSession that asks AWS nothing: dummy credentials, no defaults file, no telemetry."""
    if boto_session is None:
        boto_session = boto3.Session(aws_access_key_id="compile", aws_secret_access_key="compile", region_name=inputs.region)
    return PipelineSession(boto_session=boto_session, default_bucket=inputs.bucket, sagemaker_config=TELEMETRY_OFF)


class _Compiler:
    def __init__(self, pipeline: spec.Pipeline, inputs: CompileInputs, session: PipelineSession):
        self.pipeline, self.inputs, self.session = pipeline, inputs, session
        self.parameters: dict[str, Any] = {}  # name -> SDK parameter, in declaration order
        self.compiled: dict[str, Any] = {}  # spec step name -> SDK step
        self._declare_parameters()

    # ---- parameters ------------------------------------------------------------------------
    def _parameter(self, cls, name: str, default: Any):
        if name in self.parameters:
            raise ConfigError(f"pipeline '{self.pipeline.name}': parameter '{name}' is declared by the spec and by the compiler")
        self.parameters[name] = cls(name=name, default_value=default)
        return self.parameters[name]

    def _declare_parameters(self) -> None:
        p, i = self.pipeline, self.inputs
        unknown = sorted(set(i.parameter_defaults) - {x.name for x in p.parameters})
        if unknown:
            raise ConfigError(f"parameter default(s) for {unknown}: pipeline '{p.name}' declares {[x.name for x in p.parameters]}")
        fed = {item.source.parameter for s in p.steps for item in s.inputs if isinstance(item.source, spec.FromParameter)
               and not (isinstance(s, spec.TransformStep) and item.name == "model")}  # that one names a model package
        counts = {spec.instance_count_parameter(s.name) for s in p.steps}
        for parameter in p.parameters:
            default = i.parameter_defaults.get(parameter.name, parameter.default)
            if parameter.name in counts and not (isinstance(default, int) and default >= 1):
                # the service model allows 0 (heterogeneous clusters): refuse it here, where it is still a typo
                raise ConfigError(f"parameter '{parameter.name}' default {default!r}: an instance count of 1 or more")
            if parameter.name in fed and parameter.name not in i.parameter_defaults and not str(default).startswith("s3://"):
                # the spec's default is a local path (the local runner's); in the cloud data enters from S3
                default = f"s3://{i.bucket}/{p.name}/input/{parameter.name}/"
            elif parameter.cloud_default and parameter.name not in i.parameter_defaults:
                default = parameter.cloud_default.format(bucket=i.bucket, pipeline=p.name)
            self._parameter(_SDK_PARAMETER[parameter.type], parameter.name, default)
        self._parameter(ParameterString, "ArtifactsS3Uri", f"s3://{i.bucket}/{p.name}")
        self._parameter(ParameterString, "RoleArn", i.role_arn)
        if any(spec.ACCOUNT_MODEL_ROLE in s.bind_account.values() for s in p.steps):
            self._parameter(ParameterString, "ModelRoleArn", i.model_role_arn or i.role_arn)
        roles = {s.image for s in p.steps} | {
            value[len(spec.ACCOUNT_IMAGE):] for s in p.steps for value in s.bind_account.values()
            if value.startswith(spec.ACCOUNT_IMAGE)}
        for role in sorted(roles):
            if role not in i.image_uris:
                raise ConfigError(f"no image URI for image role '{role}' (image-uris.json has {sorted(i.image_uris)})")
            self._parameter(ParameterString, f"{camel(role)}ImageUri", i.image_uris[role])
        kinds = sorted({_KIND_NAMES[type(s)] for s in p.steps})
        for kind in kinds:
            default = i.processing_instance_type if kind == "Processing" else i.training_instance_type
            if kind == "Transform":  # the spec's, the first transform step's
                default = spec.transform_steps(p)[0].instance_type
            self._parameter(ParameterString, f"{kind}InstanceType", default)
        for step in p.steps:  # the spec may declare a step's count among its parameters (the local runner reads those)
            if spec.instance_count_parameter(step.name) not in self.parameters:
                self._parameter(ParameterInteger, spec.instance_count_parameter(step.name), step.instance_count)
        if "Processing" in kinds:
            self._parameter(ParameterInteger, "ProcessingMaxRuntimeSeconds", i.processing_max_runtime_seconds)
        for step in p.steps:
            if isinstance(step, spec.TrainingStep):
                self._parameter(ParameterInteger, f"{camel(step.name)}MaxRuntimeSeconds", step.max_run_seconds)
                if step.spot:
                    self._parameter(ParameterInteger, f"{camel(step.name)}MaxWaitSeconds", step.max_wait_seconds)
        self._parameter(ParameterBoolean, "EnableNetworkIsolation", i.network_isolation)
        if i.volume_kms_key:
            self._parameter(ParameterString, "VolumeKmsKeyId", i.volume_kms_key)
        if i.output_kms_key:
            self._parameter(ParameterString, "OutputKmsKeyId", i.output_kms_key)

    def _optional(self, name: str):
        return self.parameters.get(name)

    # ---- what every job shares ---------------------------------------------------------------
    def _common(self, step: spec.Step) -> dict[str, Any]:
        kind = _KIND_NAMES[type(step)]
        return dict(
            role=self.parameters["RoleArn"],
            image_uri=self.parameters[f"{camel(step.image)}ImageUri"],
            instance_count=self.parameters[spec.instance_count_parameter(step.name)],
            instance_type=self.parameters[f"{kind}InstanceType"],
            volume_kms_key=self._optional("VolumeKmsKeyId"),
            output_kms_key=self._optional("OutputKmsKeyId"),
            sagemaker_session=self.session,
            tags=[{"Key": k, "Value": v} for k, v in self.inputs.tags] or None,
        )

    def _cache(self, step: spec.Step) -> CacheConfig | None:
        # steps with side effects (registry, endpoints) are never cached
        return CacheConfig(enable_caching=True, expire_after=self.inputs.cache_expire_after) if step.cacheable else None

    def _account(self, value: str):
        if value == spec.ACCOUNT_ROLE:
            return self.parameters["RoleArn"]
        if value == spec.ACCOUNT_MODEL_ROLE:
            return self.parameters["ModelRoleArn"]
        return self.parameters[f"{camel(value[len(spec.ACCOUNT_IMAGE):])}ImageUri"]

    def _bound(self, step: spec.Step) -> dict[str, Any]:
        """Step parameter -> pipeline parameter or account value; required step parameters must be bound."""
        unbound = [name for name, param in step.params.items()
                   if param.default is REQUIRED and name not in step.bind and name not in step.bind_account]
        if unbound:
            raise ConfigError(f"step '{step.name}': required parameter(s) {unbound} are bound to no pipeline parameter")
        bound = {name: self.parameters[parameter] for name, parameter in step.bind.items()}
        bound.update({name: self._account(value) for name, value in step.bind_account.items()})
        bound.update({name: str(value) for name, value in step.fixed.items()})
        return dict(sorted(bound.items()))

    @staticmethod
    def _argument(value: Any) -> Any:
        """ContainerArguments are strings: a number or boolean parameter goes in through Std:Join."""
        return value if isinstance(value, (ParameterString, str)) else Join(on="", values=[value])

    def _source(self, item: spec.Input):
        """The S3 URI an input reads: a pipeline parameter, or another step's output property."""
        source = item.source
        if isinstance(source, spec.FromParameter):
            return self.parameters[source.parameter]
        upstream_spec = self.pipeline.step(source.step)
        properties = self.compiled[source.step].properties
        if isinstance(upstream_spec, spec.TrainingStep):
            return properties.ModelArtifacts.S3ModelArtifacts
        return properties.ProcessingOutputConfig.Outputs[source.output].S3Output.S3Uri

    def _output_prefix(self, step: spec.Step, *parts: str) -> Join:
        return Join(on="/", values=[self.parameters["ArtifactsS3Uri"], ExecutionVariables.PIPELINE_EXECUTION_ID, step.name, *parts])

    # ---- steps -----------------------------------------------------------------------------
    def processing(self, step: spec.ProcessingStep):
        vpc = self.inputs
        processor = Processor(
            entrypoint=["python3", f"{PROGRAM_DIR}/{step.script}"],
            volume_size_in_gb=self.inputs.volume_size_gb,
            max_runtime_in_seconds=self.parameters["ProcessingMaxRuntimeSeconds"],
            base_job_name=step.name,
            network_config=NetworkConfig(
                enable_network_isolation=self.parameters["EnableNetworkIsolation"],
                subnets=list(vpc.subnets) or None, security_group_ids=list(vpc.security_group_ids) or None,
            ),
            **self._common(step),
        )
        arguments = [token for name, value in self._bound(step).items() for token in (f"--{name}", self._argument(value))]
        if step.sagemaker_api:  # locally the runner says local and gives the control plane's URL
            arguments += ["--backend", "sagemaker"]
        step_args = processor.run(
            inputs=[
                ProcessingInput(
                    source=self._source(item), destination=f"{PROCESSING_DIR}/input/{item.name}", input_name=item.name,
                    s3_data_distribution_type=item.distribution,
                )
                for item in step.inputs
            ],
            outputs=[
                ProcessingOutput(
                    source=f"{PROCESSING_DIR}/output/{output.name}", destination=self._output_prefix(step, output.name),
                    output_name=output.name, s3_upload_mode="EndOfJob",
                )
                for output in step.outputs
            ],
            arguments=arguments or None,
        )
        gate = self.pipeline.gate
        property_files = []
        if gate and gate.step == step.name:
            property_files.append(PropertyFile(name=property_file_name(gate), output_name=gate.output, path=gate.file))
        return SdkProcessingStep(name=step.name, step_args=step_args, cache_config=self._cache(step), property_files=property_files or None)

    def training(self, step: spec.TrainingStep):
        vpc = self.inputs
        estimator = Estimator(
            volume_size=self.inputs.volume_size_gb,
            max_run=self.parameters[f"{camel(step.name)}MaxRuntimeSeconds"],
            output_path=self._output_prefix(step),
            base_job_name=step.name,
            hyperparameters=self._bound(step) or None,
            subnets=list(vpc.subnets) or None,
            security_group_ids=list(vpc.security_group_ids) or None,
            metric_definitions=[metric_definition(name) for name in step.metrics] or None,
            use_spot_instances=step.spot,
            max_wait=self.parameters[f"{camel(step.name)}MaxWaitSeconds"] if step.spot else None,
            checkpoint_s3_uri=self._checkpoint_uri(step) if step.checkpoints else None,
            checkpoint_local_path=CHECKPOINT_DIR if step.checkpoints else None,
            enable_network_isolation=self.parameters["EnableNetworkIsolation"],
            # the image's `train` runs this script (Dockerfile.train sets the same by default)
            environment={"SAGEMAKER_PROGRAM": step.script},
            debugger_hook_config=False,
            disable_profiler=True,
            **self._common(step),
        )
        step_args = estimator.fit(inputs={
            item.name: TrainingInput(s3_data=self._source(item), distribution=item.distribution) for item in step.inputs
        })
        return SdkTrainingStep(name=step.name, step_args=step_args, cache_config=self._cache(step))

    def model_step_name(self, step: spec.TransformStep) -> str:
        return f"{step.name}-model"

    def _transform_model(self, step: spec.TransformStep):
        """The CreateModel step a transform runs with: a training step's artifact in the serving image,
        or a model package (its image and artifact) named by a pipeline parameter.

        The request is written here (the SDK's ModelPackage would call DescribeModelPackage at compile
        time, and its Model.create cannot take the role as a parameter): the role is a compile-time input.
        """
        # the container cannot read ModelClientConfig: the invocation timeout reaches the server this way
        env = {"SAGEMAKER_MODEL_SERVER_TIMEOUT": str(step.invocation_timeout), **step.environment}
        source = step.input("model").source
        if isinstance(source, spec.FromParameter):
            container = {"ModelPackageName": self.parameters[source.parameter], "Environment": env}
        else:
            container = {"Image": self.parameters[f"{camel(step.image)}ImageUri"],
                         "ModelDataUrl": self._source(step.input("model")), "Environment": env}
        request = {"ExecutionRoleArn": self.inputs.model_role_arn or self.inputs.role_arn, "PrimaryContainer": container,
                   "EnableNetworkIsolation": self.parameters["EnableNetworkIsolation"]}
        if self.inputs.subnets:
            request["VpcConfig"] = {"Subnets": list(self.inputs.subnets), "SecurityGroupIds": list(self.inputs.security_group_ids)}
        if self.inputs.tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in self.inputs.tags]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # CreateModelStep: the raw request, no SDK model logic
            created = CreateModelStep(name=self.model_step_name(step), step_args=request)
        self.compiled[self.model_step_name(step)] = created
        return created

    def transform(self, step: spec.TransformStep):
        """A TransformStep after its ModelStep; both returned in order (the caller places them)."""
        model = self._transform_model(step)
        transformer = Transformer(
            model_name=model.properties.ModelName,
            instance_count=self.parameters[spec.instance_count_parameter(step.name)],
            instance_type=self.parameters["TransformInstanceType"],
            strategy=step.batch_strategy, assemble_with=step.assemble_with, accept=step.accept,
            max_concurrent_transforms=step.max_concurrent_transforms, max_payload=step.max_payload_mb,
            output_path=self._output_prefix(step, step.outputs[0].name),
            output_kms_key=self._optional("OutputKmsKeyId"), volume_kms_key=self._optional("VolumeKmsKeyId"),
            base_transform_job_name=step.name, sagemaker_session=self.session,
            tags=[{"Key": k, "Value": v} for k, v in self.inputs.tags] or None,
        )
        step_args = transformer.transform(
            data=self._source(step.input("data")), content_type=step.content_type, split_type=step.split_type,
            input_filter=step.input_filter, join_source=step.join_source, output_filter=step.output_filter,
            model_client_config={"InvocationsTimeoutInSeconds": step.invocation_timeout,
                                 "InvocationsMaxRetries": step.max_retries},
        )
        after = [self.compiled[name] for name in step.after]
        return [model, SdkTransformStep(name=step.name, step_args=step_args, depends_on=after or None)]

    def _checkpoint_uri(self, step: spec.TrainingStep) -> Join:
        """Checkpoints resume one training request, and only it.

        CheckpointConfig is part of SageMaker's cache key, so an execution id in it would defeat the
        cache; a fixed location would make a job with new data or a new image resume an old run's
        checkpoint (train.py refuses other data; it cannot tell new code). So the location is built
        from what identifies the request: the image, the producing jobs of its inputs (a cache hit
        upstream keeps the same job name) and the bound hyperparameters.
        """
        parts: list[Any] = [self.parameters[f"{camel(step.image)}ImageUri"]]
        for item in step.inputs:
            source = item.source
            if isinstance(source, spec.FromParameter):
                parts.append(self.parameters[source.parameter])
            else:
                upstream = self.pipeline.step(source.step)
                properties = self.compiled[source.step].properties
                job_name = properties.TrainingJobName if isinstance(upstream, spec.TrainingStep) else properties.ProcessingJobName
                if job_name not in parts:
                    parts.append(job_name)
        parts += list(self._bound(step).values())
        return Join(on="/", values=[self.parameters["ArtifactsS3Uri"], "checkpoints", step.name, *parts])

    def step(self, step: spec.Step):
        if isinstance(step, spec.TransformStep):
            build = self.transform
        else:
            build = self.training if isinstance(step, spec.TrainingStep) else self.processing
        built = build(step)
        self.compiled[step.name] = built[-1] if isinstance(built, list) else built
        return built

    def gate(self, gate: spec.Gate, if_steps: list) -> list:
        evaluation = self.compiled[gate.step]
        (property_file,) = [f for f in evaluation.property_files if f.name == property_file_name(gate)]
        value = JsonGet(step_name=evaluation.name, property_file=property_file, json_path=gate.json_path)
        floor = self.parameters[gate.parameter]
        fail = FailStep(
            name=fail_step_name(gate),
            error_message=Join(on="", values=[gate.fail_message, f" ({gate.json_path} = ", value, f", {gate.parameter} = ", floor, ")"]),
        )
        condition = ConditionStep(
            name=gate_step_name(gate),
            conditions=[ConditionGreaterThanOrEqualTo(left=value, right=floor)],
            if_steps=if_steps,
            else_steps=[fail],
        )
        return [condition]

    def build(self) -> SdkPipeline:
        top, gated = [], []
        gate = self.pipeline.gate
        for step in self.pipeline.steps:
            compiled = self.step(step)
            if step.on_gate_pass:
                if gate is None:
                    raise ConfigError(f"step '{step.name}' runs on the gate's pass, but pipeline '{self.pipeline.name}' has no gate")
                branch = gated
            else:
                branch = top
            branch.extend(compiled if isinstance(compiled, list) else [compiled])  # a transform: its model, then it
        if gate:
            top += self.gate(gate, gated)
        names = [s.name for s in top] + [s.name for s in gated]
        if len(set(names)) != len(names):
            raise ConfigError(f"pipeline '{self.pipeline.name}': step names clash with the gate's {names}")
        return SdkPipeline(
            name=self.pipeline.name, parameters=list(self.parameters.values()), steps=top, sagemaker_session=self.session,
        )


@contextlib.contextmanager
def config_validated_once() -> Iterator[None]:
    """The SDK validates its defaults config against its JSON schema on every lookup, about 70 per
    compile, and that was 85% of a compile's time (bench/pipelines_compile_bench.py). Ours is the
    fixed TELEMETRY_OFF, validated once when the session is made: skip only those re-checks."""
    original = sdk_utils.validate_sagemaker_config

    def validate(config=None):
        return None if config is TELEMETRY_OFF else original(config)

    sdk_utils.validate_sagemaker_config = validate
    try:
        yield
    finally:
        sdk_utils.validate_sagemaker_config = original


def build(pipeline: spec.Pipeline, inputs: CompileInputs | None = None, session: PipelineSession | None = None) -> SdkPipeline:
    """The SDK's Pipeline object; `compile` is its definition as stable bytes."""
    inputs = inputs or CompileInputs()
    with config_validated_once():
        return _Compiler(pipeline, inputs, session or offline_session(inputs)).build()


def local_mode_variant(pipeline: spec.Pipeline) -> tuple[spec.Pipeline, list[str]]:
    """The spec pipeline as the SDK's local mode (LocalPipelineSession) can run it, and what differs.

    Local mode refuses ShardedByS3Key: such inputs become FullyReplicated (every host gets every
    file and takes its own share, contract.jobs.ProcessingJob.table_files). Steps that call the
    SageMaker API (register, deploy) are left out: on the `sagemaker` backend they would call AWS
    from the container; so is a transform with DataProcessing, which local mode ignores. The gate's
    pass branch is then empty. Local mode refuses spot training and
    checkpoint_s3_uri: training steps run on demand without checkpoints. Nothing else changes.
    """
    steps, differences = [], []
    for step in pipeline.steps:
        if step.sagemaker_api:
            differences.append(f"step '{step.name}' left out (it calls the SageMaker API)")
            continue
        if isinstance(step, spec.TransformStep) and (step.input_filter or step.join_source or step.output_filter):
            differences.append(f"step '{step.name}' left out (local mode ignores DataProcessing: the server would "
                               "get the columns its InputFilter leaves out)")
            continue
        sharded = [item.name for item in step.inputs if item.distribution == spec.SHARDED_BY_S3_KEY]
        if sharded:
            differences.append(f"step '{step.name}' input(s) {sharded}: ShardedByS3Key -> FullyReplicated")
            step = replace(step, inputs=tuple(
                replace(item, distribution=spec.FULLY_REPLICATED) if item.name in sharded else item for item in step.inputs
            ))
        if isinstance(step, spec.TrainingStep) and (step.spot or step.checkpoints):
            differences.append(f"step '{step.name}': spot and checkpoints -> on-demand, no checkpoints")
            step = replace(step, spot=False, checkpoints=False)
        steps.append(step)
    return replace(pipeline, steps=tuple(steps)), differences


def definition(sdk_pipeline: SdkPipeline) -> str:
    """The SDK's definition with keys sorted and indented: the same spec and inputs give the same bytes."""
    with config_validated_once():
        text = sdk_pipeline.definition()
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def compile(pipeline: spec.Pipeline, inputs: CompileInputs | None = None) -> str:  # noqa: A001 - the brief's name
    """The definition JSON of a spec pipeline."""
    return definition(build(pipeline, inputs))


def parameter_names(definition: Mapping[str, Any]) -> list[str]:
    return [p["Name"] for p in definition.get("Parameters", [])]
