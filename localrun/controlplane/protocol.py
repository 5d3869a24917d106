"""AWS's JSON 1.1 wire protocol, checked with botocore's own service models.

A request is `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body. The body is
validated against the operation's input shape (types, required members, unknown keys) by
botocore's ParamValidator, plus the enum, length, range and pattern rules of the same model that
the validator leaves out (localrun.servicemodel, shared with the pipeline-definition check). Errors go back as AWS sends them: HTTP 400, `{"__type", "message"}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import botocore.session
from botocore.validate import ParamValidator

from ..servicemodel import Violation, violations

ACCOUNT = "000000000000"


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@dataclass
class Request:
    operation: str
    params: dict[str, Any]
    region: str

    def arn(self, resource: str, service: str = "sagemaker") -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{resource}"


_session = None


def service_model(name: str):
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session.get_service_model(name)


def region_of(authorization: str | None) -> str:
    """The region the client signed for (Credential=AKID/date/REGION/service/aws4_request)."""
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/", authorization or "")
    return match.group(1) if match else "us-east-1"


class JsonService:
    """One JSON 1.1 service: its target prefix, its model, and a handler per implemented operation."""

    def __init__(self, name: str, handlers: dict[str, Callable[[Request], dict]]):
        self.model = service_model(name)
        self.prefix = self.model.metadata["targetPrefix"]
        self.handlers = handlers
        self.validator = ParamValidator()

    def handle(self, target: str, body: bytes, authorization: str | None) -> tuple[int, dict]:
        try:
            prefix, _, operation = target.partition(".")
            if prefix != self.prefix or operation not in self.handlers:
                raise ApiError("UnknownOperationException", f"operation {target!r} is not implemented locally")
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "the request body is not a JSON object")
            shape = self.model.operation_model(operation).input_shape
            self.check(params, shape)
            answer = self.handlers[operation](Request(operation, params, region_of(authorization)))
            return 200, encode(answer)
        except json.JSONDecodeError as exc:
            return 400, ApiError("SerializationException", f"request body is not JSON: {exc}").body()
        except ApiError as exc:
            return exc.status, exc.body()

    def check(self, params: dict, shape) -> None:
        structural = structural_errors(self.validator.validate(params, shape))
        if structural:  # unknown keys, wrong types, missing members: botocore's own words
            raise validation("Parameter validation failed:\n" + structural)
        errors = constraint_errors(params, shape)
        if errors:
            raise validation(detected(errors))


def structural_errors(report) -> str:
    """ParamValidator's report without its `min` checks, which constraint_errors words as AWS does."""
    kept = [error for error in report._errors if error[0] not in ("invalid range", "invalid length")]
    if not kept:
        return ""
    remaining = type(report)()
    remaining._errors = kept
    return remaining.generate_report()


def constraint_errors(value: Any, shape, path: str = "") -> list[str]:
    """The model's enum, length, range and pattern rules (ParamValidator checks only the minimums), in
    AWS's words: `Value 'x' at 'productionVariants.1.member.instanceType' failed to satisfy ...`."""
    return [_aws_message(found, path) for found in violations(value, shape, pattern_subject=local_url_as_s3)]


def local_url_as_s3(text: str) -> str:
    """This control plane reads model data and writes captures on disk: a file:// URL or an absolute
    path (hosting.local_path) stands where AWS wants an s3:// URL, and is held to the pattern the
    s3:// URL of the same path must match."""
    if text.startswith("file:///"):
        return "s3://local/" + text[len("file:///"):]
    return "s3://local" + text if text.startswith("/") else text


def aws_path(path: tuple, prefix: str = "") -> str:
    """AWS's spelling of a member path: lower camel case, lists as `.N.member` counted from 1."""
    parts = [prefix] if prefix else []
    for kind, step in path:
        if kind == "member":
            parts.append(step[:1].lower() + step[1:])
        elif kind == "index":
            parts.append(f"{step + 1}.member")
        elif kind == "value":
            parts.append(str(step))
        else:
            parts.append("key")
    return ".".join(parts)


def _aws_message(found: Violation, prefix: str) -> str:
    where = aws_path(found.path, prefix)
    if found.rule == "enum":
        rule = f"Member must satisfy enum value set: [{', '.join(found.limit)}]"
    elif found.rule == "pattern":
        rule = f"Member must satisfy regular expression pattern: {found.limit}"
    else:
        measure = "value" if found.unit == "value" else "length"  # AWS says length for counts of items too
        side = "greater than or equal to" if found.rule == "min" else "less than or equal to"
        rule = f"Member must have {measure} {side} {found.limit}"
    value = f"Value '{found.value}' at" if isinstance(found.value, (str, int, float)) else "Value at"
    return f"{value} '{where}' failed to satisfy constraint: {rule}"


def detected(errors: list[str]) -> str:
    """AWS's ValidationException message for constraint failures."""
    return f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: " + "; ".join(errors)


def encode(answer: Any) -> Any:
    """Internal keys (leading underscore) dropped; timestamps as epoch seconds, as AWS sends them."""
    if isinstance(answer, dict):
        return {k: encode(v) for k, v in answer.items() if not k.startswith("_") and v is not None}
    if isinstance(answer, list):
        return [encode(v) for v in answer]
    if isinstance(answer, datetime):
        return answer.timestamp()
    return answer


def page(items: list, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """MaxResults/NextToken pagination; the token is the offset of the next item."""
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise validation(f"invalid NextToken {token!r}") from None
    size = int(params.get("MaxResults") or default_size)
    chunk = items[start:start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


def sort(items: list[dict], params: dict, keys: dict[str, str], default: str, order: str = "Ascending") -> list[dict]:
    """SortBy (mapped to a body key) and SortOrder, with the operation's own defaults."""
    key = keys.get(params.get("SortBy") or default, keys[default])
    ordered = sorted(items, key=lambda item: (item.get(key) or 0, item.get("_Sequence", 0)))
    return ordered[::-1] if (params.get("SortOrder") or order) == "Descending" else ordered
