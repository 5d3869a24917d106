"""A pipeline definition checked against the SageMaker service model, offline (botocore only).

Each step's `Arguments`, with a placeholder job name, are validated as the request SageMaker will
send (CreateProcessingJob, CreateTrainingJob, CreateModel, CreateTransformJob, CreateModelPackage)
with botocore's ParamValidator. Property references are checked first and then replaced by values
of the type the shape wants: `Parameters.X` must be declared with a fitting type (its default is
then checked in place, so a default instance type is held to the enum), `Steps.S.<path>` must
exist in S's Describe* output shape (with `['name']` one that S declares), a PropertyFile must be
declared by its step on one of its outputs. On top, what ParamValidator skips: `enum`, `min`/`max`
(lengths, counts and values) and `pattern` (Java regular expressions, whole-string) from the same
shape metadata, by the walk the local control plane shares (localrun.servicemodel).

    python -m pipelines validate work/pipelines/classifier.json
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping

from botocore import session as botocore_session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator

from common.errors import ConfigError
from localrun.servicemodel import violations

# step Type -> (request operation, its name member, the Describe operation whose output `Steps.S.*` reads)
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName", "DescribeProcessingJob"),
    "Training": ("CreateTrainingJob", "TrainingJobName", "DescribeTrainingJob"),
    "Model": ("CreateModel", "ModelName", "DescribeModel"),
    "Transform": ("CreateTransformJob", "TransformJobName", "DescribeTransformJob"),
    "RegisterModel": ("CreateModelPackage", None, "DescribeModelPackage"),
}
CONTROL_TYPES = {"Condition", "Fail"}
PLACEHOLDER_JOB_NAME = "placeholder-job-name"
EXECUTION_VARIABLES = {
    "PipelineExecutionId": "0a1b2c3d4e5f", "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/0a1b2c3d4e5f",
    "PipelineName": "pipeline", "PipelineArn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p",
    "StartDateTime": "2020-01-01T00:00:00Z", "CurrentDateTime": "2020-01-01T00:00:00Z",
}
PARAMETER_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
# which parameter types may stand where a shape of this type is wanted
FITS = {"string": {"String"}, "integer": {"Integer"}, "long": {"Integer"}, "float": {"Float", "Integer"},
        "double": {"Float", "Integer"}, "boolean": {"Boolean"}}
_ISO_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?)?")
_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class DefinitionError(ConfigError):
    """The definition would be refused by SageMaker; the message lists every problem found."""


@lru_cache(maxsize=1)
def service_model():
    return botocore_session.get_session().get_service_model("sagemaker")


class _Unknown:
    """A value only known at run time (a step property, a JsonGet): type-checked, not value-checked."""


UNKNOWN = _Unknown()


@dataclass
class _Context:
    definition: Mapping[str, Any]
    steps: dict[str, Mapping[str, Any]]
    parameters: dict[str, Mapping[str, Any]]
    problems: list[str]


def all_steps(steps: list) -> Iterator[Mapping[str, Any]]:
    """Every step, those inside a ConditionStep's branches too."""
    for step in steps:
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            yield from all_steps(arguments.get("IfSteps", []))
            yield from all_steps(arguments.get("ElseSteps", []))


# ---- references --------------------------------------------------------------------------------
def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")


def _path_tokens(text: str) -> list[tuple[str, Any]] | None:
    tokens, position = [], 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if not match:
            return None
        member, index, quoted, double_quoted = match.groups()
        if member is not None:
            tokens.append(("member", member))
        elif index is not None:
            tokens.append(("index", int(index)))
        else:
            tokens.append(("key", quoted if quoted is not None else double_quoted))
        position = match.end()
    return tokens


def _declares(arguments: Any, walked: list[str], name: str) -> bool:
    """Whether the step's own Arguments, at the same member path, have an element named `name`."""
    value = arguments
    for member in walked:
        if not isinstance(value, dict) or member not in value:
            return False
        value = value[member]
    return isinstance(value, list) and any(
        isinstance(item, dict) and any(k.endswith("Name") and v == name for k, v in item.items()) for item in value
    )


def _step_property(reference: str, ctx: _Context, where: str) -> Shape | None:
    """The shape a `Steps.S.<path>` reference reads, or None (with the problem recorded)."""
    match = re.match(r"Steps\.([A-Za-z0-9\-_]+)(.*)$", reference)
    if not match:
        ctx.problems.append(f"{where}: malformed step reference {reference!r}")
        return None
    name, rest = match.groups()
    step = ctx.steps.get(name)
    if step is None:
        ctx.problems.append(f"{where}: {reference!r} reads step '{name}', which the definition does not declare; steps: {sorted(ctx.steps)}")
        return None
    tokens = _path_tokens(rest)
    if not tokens:
        ctx.problems.append(f"{where}: cannot read the property path of {reference!r}")
        return None
    if tokens[0] == ("member", "PropertyFiles"):
        ctx.problems.append(f"{where}: {reference!r}: a property file is read only through JsonGet")
        return None
    operation = OPERATIONS.get(step.get("Type"))
    if operation is None:
        ctx.problems.append(f"{where}: {reference!r}: a {step.get('Type')} step has no properties")
        return None
    shape: Shape = service_model().operation_model(operation[2]).output_shape
    walked: list[str] = []
    for kind, token in tokens:
        if kind == "member":
            if not isinstance(shape, StructureShape) or token not in shape.members:
                known = sorted(shape.members) if isinstance(shape, StructureShape) else []
                ctx.problems.append(f"{where}: {reference!r}: '{token}' is not in {operation[2]}'s {shape.name} (members: {known})")
                return None
            shape = shape.members[token]
            walked.append(token)
        elif isinstance(shape, ListShape):
            if kind == "key" and not _declares(step.get("Arguments", {}), walked, token):
                ctx.problems.append(f"{where}: {reference!r}: step '{name}' declares no {'.'.join(walked)} named '{token}'")
                return None
            shape = shape.member
        elif isinstance(shape, MapShape) and kind == "key":
            shape = shape.value
        else:
            ctx.problems.append(f"{where}: {reference!r}: cannot index {shape.name} ({shape.type_name}) with {token!r}")
            return None
    return shape


def _json_get(body: Any, ctx: _Context, where: str) -> None:
    if not isinstance(body, dict) or set(body) - {"PropertyFile", "Path", "StepName"} or "Path" not in body:
        ctx.problems.append(f"{where}: malformed JsonGet {json.dumps(body)[:200]}")
        return
    source = body.get("PropertyFile")
    reference = source.get("Get") if isinstance(source, dict) else None
    match = re.match(r"Steps\.([A-Za-z0-9\-_]+)\.PropertyFiles\.([A-Za-z0-9\-_]+)$", reference or "")
    if not match:
        ctx.problems.append(f"{where}: JsonGet needs PropertyFile {{'Get': 'Steps.<step>.PropertyFiles.<name>'}}, got {source!r}")
        return
    step_name, file_name = match.groups()
    step = ctx.steps.get(step_name)
    if step is None:
        ctx.problems.append(f"{where}: JsonGet reads step '{step_name}', which the definition does not declare")
        return
    files = {f.get("PropertyFileName"): f for f in step.get("PropertyFiles", []) if isinstance(f, dict)}
    if file_name not in files:
        ctx.problems.append(f"{where}: JsonGet reads property file '{file_name}', which step '{step_name}' does not declare ({sorted(files)})")
    if not isinstance(body["Path"], str) or not body["Path"]:
        ctx.problems.append(f"{where}: JsonGet Path must be a non-empty JSON path string, got {body['Path']!r}")


def resolve(value: Any, ctx: _Context, where: str, wanted: str | None) -> Any:
    """A reference checked and replaced: a parameter's default, a joined string, or UNKNOWN.

    `wanted` is the shape type the place wants (None: anything scalar)."""
    (function, body), = value.items()
    if function == "Get":
        if not isinstance(body, str):
            ctx.problems.append(f"{where}: Get takes a string, got {body!r}")
            return UNKNOWN
        if body.startswith("Parameters."):
            name = body[len("Parameters."):]
            parameter = ctx.parameters.get(name)
            if parameter is None:
                ctx.problems.append(f"{where}: parameter '{name}' is not declared; declared: {sorted(ctx.parameters)}")
                return UNKNOWN
            if wanted and wanted in FITS and parameter.get("Type") not in FITS[wanted]:
                ctx.problems.append(f"{where}: parameter '{name}' is {parameter.get('Type')}, the request wants a {wanted}")
                return UNKNOWN
            return parameter.get("DefaultValue", UNKNOWN)
        if body.startswith("Execution."):
            name = body[len("Execution."):]
            if name not in EXECUTION_VARIABLES:
                ctx.problems.append(f"{where}: unknown execution variable '{name}'; known: {sorted(EXECUTION_VARIABLES)}")
                return UNKNOWN
            return EXECUTION_VARIABLES[name]
        if body.startswith("Steps."):
            shape = _step_property(body, ctx, where)
            if shape is not None:
                if shape.type_name in ("structure", "list", "map"):
                    ctx.problems.append(f"{where}: {body!r} is a {shape.type_name} ({shape.name}), not a value")
                elif wanted and wanted in FITS and shape.type_name != wanted and not (
                    wanted in ("float", "double") and shape.type_name in ("integer", "long", "float", "double")
                ):
                    ctx.problems.append(f"{where}: {body!r} is a {shape.type_name}, the request wants a {wanted}")
            return UNKNOWN
        ctx.problems.append(f"{where}: cannot resolve {body!r} (Parameters., Steps. or Execution. expected)")
        return UNKNOWN
    if function == "Std:Join":
        if wanted and wanted != "string":
            ctx.problems.append(f"{where}: Join gives a string, the request wants a {wanted}")
        if not isinstance(body, dict) or set(body) != {"On", "Values"} or not isinstance(body["Values"], list):
            ctx.problems.append(f"{where}: malformed Join {json.dumps(body)[:200]}")
            return UNKNOWN
        parts = [resolve(v, ctx, f"{where}.Values[{i}]", None) if _is_reference(v) else v for i, v in enumerate(body["Values"])]
        for i, part in enumerate(parts):
            if isinstance(part, (dict, list)):
                ctx.problems.append(f"{where}.Values[{i}]: a Join value must be a scalar or a reference, got {json.dumps(part)[:120]}")
                return UNKNOWN
        if any(part is UNKNOWN for part in parts):
            return UNKNOWN
        return str(body["On"]).join(json.dumps(p) if isinstance(p, bool) else str(p) for p in parts)
    _json_get(body, ctx, where)
    return UNKNOWN


# ---- requests ----------------------------------------------------------------------------------
_TYPE_PLACEHOLDERS = {"string": "placeholder", "integer": 1, "long": 1, "float": 1.0, "double": 1.0, "boolean": True,
                      "timestamp": "2020-01-01T00:00:00Z", "blob": b""}


def _concrete(value: Any, shape: Shape, ctx: _Context, where: str, unknown: set[str]) -> Any:
    """The request with references resolved; places whose value is UNKNOWN get a typed placeholder."""
    if _is_reference(value):
        resolved = resolve(value, ctx, where, shape.type_name)
        if resolved is UNKNOWN:
            unknown.add(where)
            return _TYPE_PLACEHOLDERS.get(shape.type_name, "placeholder")
        return resolved
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: _concrete(v, shape.members[k], ctx, f"{where}.{k}", unknown) if k in shape.members else v for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_concrete(v, shape.member, ctx, f"{where}[{i}]", unknown) for i, v in enumerate(value)]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _concrete(v, shape.value, ctx, f"{where}['{k}']", unknown) for k, v in value.items()}
    return value


def _where(where: str, path: tuple) -> str:
    """A place in the request, spelt as `_concrete` spells the places it could not resolve."""
    for kind, step in path:
        where = {"member": f"{where}.{step}", "index": f"{where}[{step}]", "key": f"{where} key {step!r}",
                 "value": f"{where}['{step}']"}[kind]
    return where


def metadata_problems(value: Any, shape: Shape, where: str, unknown: set[str] | frozenset = frozenset()) -> list[str]:
    """What ParamValidator does not check: enum, min/max (lengths, counts, values) and pattern, by the
    walk the local control plane uses too (localrun.servicemodel); a pattern is not reported where
    the length is already wrong."""
    found = list(violations(value, shape, skip=lambda path: _where(where, path) in unknown))
    too_long = {v.path for v in found if v.rule in ("min", "max") and v.unit == "length"}
    problems: list[str] = []
    for violation in found:
        place, text = _where(where, violation.path), violation.value
        if violation.rule == "enum":
            near = [e for e in violation.limit if e.split(".")[:2] == text.split(".")[:2]][:6]
            problems.append(f"{place}: {text!r} is not one of {violation.shape.name}'s {len(violation.limit)} values"
                            f"{f' (such as {near})' if near else ''}")
        elif violation.rule == "pattern":
            if violation.path not in too_long:
                problems.append(f"{place}: {_short(text)} does not match {violation.shape.name}'s pattern {violation.limit!r}")
        else:
            amount = len(text) if violation.unit != "value" else text
            unit = {"length": "characters", "items": "items", "entries": "entries", "value": ""}[violation.unit]
            side = "below the minimum" if violation.rule == "min" else "above the maximum"
            problems.append(f"{place}: {f'{amount} {unit}'.strip()}, {side} {violation.limit}")
    return problems


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _check_request(step: Mapping[str, Any], ctx: _Context) -> None:
    operation_name, name_member, _ = OPERATIONS[step["Type"]]
    where = f"step '{step.get('Name')}' ({operation_name})"
    arguments = step.get("Arguments")
    if not isinstance(arguments, dict):
        ctx.problems.append(f"{where}: Arguments must be an object")
        return
    shape = service_model().operation_model(operation_name).input_shape
    request = dict(arguments)
    if name_member and name_member not in request:
        request[name_member] = PLACEHOLDER_JOB_NAME  # the pipeline names the job when it starts it
    unknown: set[str] = set()
    concrete = _concrete(request, shape, ctx, where, unknown)
    report = ParamValidator().validate(concrete, shape)
    if report.has_errors():
        ctx.problems += [f"{where}: {line.strip()}" for line in report.generate_report().splitlines() if line.strip()]
    ctx.problems += metadata_problems(concrete, shape, where, unknown)
    for file in step.get("PropertyFiles", []):
        outputs = {o.get("OutputName") for o in arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])}
        if not isinstance(file, dict) or file.get("OutputName") not in outputs or not file.get("PropertyFileName") or not file.get("FilePath"):
            ctx.problems.append(f"{where}: property file {file!r} must name one of the step's outputs {sorted(o for o in outputs if o)}")


def _check_control(step: Mapping[str, Any], ctx: _Context) -> None:
    where = f"step '{step.get('Name')}' ({step['Type']})"
    arguments = step.get("Arguments", {})
    if step["Type"] == "Fail":
        message = arguments.get("ErrorMessage")
        if _is_reference(message):
            resolve(message, ctx, f"{where}.ErrorMessage", "string")
        elif not isinstance(message, str):
            ctx.problems.append(f"{where}: ErrorMessage must be a string or a Join")
        return
    conditions = arguments.get("Conditions")
    if not isinstance(conditions, list) or not conditions:
        ctx.problems.append(f"{where}: needs a non-empty Conditions list")
    for i, condition in enumerate(conditions or []):
        for side in ("LeftValue", "RightValue"):
            value = condition.get(side) if isinstance(condition, dict) else None
            if _is_reference(value):
                resolve(value, ctx, f"{where}.Conditions[{i}].{side}", "double" if "Than" in str(condition.get("Type")) else None)
            elif value is None:
                ctx.problems.append(f"{where}.Conditions[{i}]: missing {side}")
    for branch in ("IfSteps", "ElseSteps"):
        if not isinstance(arguments.get(branch, []), list):
            ctx.problems.append(f"{where}: {branch} must be a list")


def _check_parameters(definition: Mapping[str, Any], ctx: _Context) -> None:
    for parameter in definition.get("Parameters", []):
        name, kind = parameter.get("Name"), parameter.get("Type")
        if kind not in PARAMETER_TYPES:
            ctx.problems.append(f"parameter '{name}': type {kind!r} is not one of {sorted(PARAMETER_TYPES)}")
            continue
        default = parameter.get("DefaultValue")
        expected = PARAMETER_TYPES[kind]
        fits = isinstance(default, expected) and not (expected is not bool and isinstance(default, bool))
        if default is not None and not fits and not (expected is float and isinstance(default, int) and not isinstance(default, bool)):
            ctx.problems.append(f"parameter '{name}': default {default!r} is not a {kind}")
        if name in ctx.parameters:
            ctx.problems.append(f"parameter '{name}' is declared twice")
        ctx.parameters[name] = parameter


def problems(definition: Mapping[str, Any] | str) -> list[str]:
    """Every problem SageMaker would refuse the definition for, as far as the service model says."""
    if isinstance(definition, str):
        definition = json.loads(definition)
    ctx = _Context(definition, {}, {}, [])
    _check_parameters(definition, ctx)
    steps = list(all_steps(definition.get("Steps", [])))
    step_name_shape = service_model().shape_for("StepName")
    for step in steps:
        name = step.get("Name")
        if not isinstance(name, str) or not name:
            ctx.problems.append(f"a step without a name: {json.dumps(step)[:120]}")
            continue
        if name in ctx.steps:
            ctx.problems.append(f"step name '{name}' is used twice")
        ctx.steps[name] = step
        ctx.problems += metadata_problems(name, step_name_shape, f"step name '{name}'")
    for step in steps:
        kind = step.get("Type")
        if kind in OPERATIONS:
            _check_request(step, ctx)
        elif kind in CONTROL_TYPES:
            _check_control(step, ctx)
        else:
            ctx.problems.append(f"step '{step.get('Name')}': unknown type {kind!r}; known: {sorted(OPERATIONS) + sorted(CONTROL_TYPES)}")
        cache = step.get("CacheConfig")
        if cache is not None and (not isinstance(cache.get("Enabled"), bool) or
                                  (cache.get("Enabled") and not _ISO_DURATION.fullmatch(str(cache.get("ExpireAfter", ""))))):
            ctx.problems.append(f"step '{step.get('Name')}': CacheConfig {cache!r} needs Enabled and an ISO 8601 ExpireAfter")
        for dependency in step.get("DependsOn", []):
            if dependency not in ctx.steps:
                ctx.problems.append(f"step '{step.get('Name')}' depends on undeclared step '{dependency}'")
    return ctx.problems


def check(definition: Mapping[str, Any] | str) -> None:
    found = problems(definition)
    if found:
        raise DefinitionError(f"the pipeline definition has {len(found)} problem(s):\n  " + "\n  ".join(found))
