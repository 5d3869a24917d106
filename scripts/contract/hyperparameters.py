"""Typed parameters from what SageMaker hands a job: strings that may be JSON-encoded.

The SDK writes every hyperparameter as a string, JSON-encoding it (`"3"`, `"\\"gbm\\""`,
`"true"`); the console and CLI users write bare strings (`gbm`, `True`). Both decode
here to the declared type, and anything else is an error that names the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

from common.errors import ConfigError

REQUIRED = object()
_TYPE_NAMES = {int: "integer", float: "number", bool: "boolean (true/false)", str: "string", list: "list of strings"}


@dataclass(frozen=True)
class Param:
    type: type
    default: Any = REQUIRED
    help: str = ""
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None


def declared(cls) -> dict[str, Param]:
    """The Params of a dataclass whose fields carry help and bounds in their metadata."""
    return {f.name: Param(f.type if isinstance(f.type, type) else _BUILTIN[f.type], f.default, **f.metadata) for f in fields(cls)}


_BUILTIN = {"int": int, "float": float, "bool": bool, "str": str, "list": list}


def decode(raw: Any) -> Any:
    """JSON-decode a string when it is valid JSON; otherwise it is a bare string."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _shown(raw: Any, limit: int = 200) -> str:
    text = repr(raw)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _coerce(key: str, raw: Any, param: Param, kind: str = "hyperparameter") -> Any:
    value = decode(raw)
    expected = _TYPE_NAMES[param.type]
    bad = ConfigError(f"{kind} {_named(key, kind)}: expected {expected}, got {_shown(raw)}")
    if param.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise bad
    if param.type is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise bad
    if param.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        return float(value)
    if param.type is str:
        # "3" decodes to 3, but a string parameter wants the text itself
        return value if isinstance(value, str) else (raw if isinstance(raw, str) else json.dumps(value))
    if param.type is list:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
        raise bad
    raise TypeError(f"unsupported parameter type {param.type}")


def _label(key: str, kind: str) -> str:
    """The key as the user writes it: `n_estimators` for a hyperparameter, `--id-columns` for an argument."""
    return f"--{key.replace('_', '-')}" if kind == "argument" else key


def _named(key: str, kind: str) -> str:
    return f"'{_label(key, kind)}'"


def _check_range(key: str, value: Any, param: Param, kind: str = "hyperparameter") -> None:
    name = f"{kind} {_named(key, kind)}"
    if param.choices and value not in param.choices:
        raise ConfigError(f"{name}: {_shown(value)} is not one of {list(param.choices)}")
    if param.minimum is not None and value < param.minimum:
        raise ConfigError(f"{name}: {value!r} is below the minimum {param.minimum}")
    if param.maximum is not None and value > param.maximum:
        raise ConfigError(f"{name}: {value!r} is above the maximum {param.maximum}")


def parse(raw: Mapping[str, Any], spec: Mapping[str, Param], kind: str = "hyperparameter") -> dict[str, Any]:
    """Validate raw values against the spec: unknown, missing or ill-typed keys are errors.

    Keys starting with `sagemaker_` (the SDK's and toolkit's) or `_` (tuning jobs add
    `_tuning_objective_metric`) belong to the platform and are ignored. `kind` is the word
    the messages use: "hyperparameter" (training) or "argument" (processing).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{kind}s: expected a JSON object of names and values, got {type(raw).__name__}")
    given = {str(k).replace("-", "_"): v for k, v in raw.items() if not str(k).startswith(("sagemaker_", "_"))}
    unknown = sorted(set(given) - set(spec))
    if unknown:
        shown = [_label(k, kind) for k in unknown][:20]
        raise ConfigError(f"unknown {kind}(s) {shown}; known: {[_label(k, kind) for k in sorted(spec)]}")
    values: dict[str, Any] = {}
    for key, param in spec.items():
        if key in given:
            value = _coerce(key, given[key], param, kind)
            _check_range(key, value, param, kind)
        elif param.default is REQUIRED:
            raise ConfigError(f"{kind} {_named(key, kind)} is required ({_TYPE_NAMES[param.type]}): {param.help}")
        else:
            value = param.default
        values[key] = value
    return values


def parse_cli(argv: Sequence[str]) -> dict[str, str]:
    """`--key value` and `--key=value` pairs, as the toolkit and ContainerArguments pass them."""
    pairs: dict[str, str] = {}
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"argument {token!r}: expected --name value")
        if "=" in token:
            name, value = token[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(tokens):
                raise ConfigError(f"argument {token!r} has no value")
            name, value = token[2:], tokens[i + 1]
            i += 2
        pairs[name.replace("-", "_")] = value
    return pairs


def merge(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later sources win; None sources are skipped."""
    merged: dict[str, Any] = {}
    for source in sources:
        if source:
            merged.update({k.replace("-", "_"): v for k, v in source.items()})
    return merged

