"""AWS's JSON 1.1 wire protocol, checked with botocore's own service models.

A request is `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body. The body is
validated against the operation's input shape (types, required members, unknown keys) by
botocore's ParamValidator, plus the enum, length and range rules of the same model that the
validator leaves out. Errors go back as AWS sends them: HTTP 400, `{"__type", "message"}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import botocore.session
from botocore.model import ListShape, MapShape, StructureShape
from botocore.validate import ParamValidator

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
        report = self.validator.validate(params, shape)
        problems = [report.generate_report()] if report.has_errors() else []
        problems += constraint_errors(params, shape, "")
        if problems:
            raise validation("; ".join(problems))


def constraint_errors(value: Any, shape, path: str) -> list[str]:
    """The model's enum, min/max length and range rules, which ParamValidator does not check."""
    errors: list[str] = []
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                errors += constraint_errors(value[key], member, f"{path}.{key}" if path else key)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        errors += _bounds(len(value), meta, path, "number of items")
        for index, item in enumerate(value):
            errors += constraint_errors(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            errors += constraint_errors(key, shape.key, f"{path} key")
            errors += constraint_errors(item, shape.value, f"{path}.{key}")
    elif isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        errors += _bounds(len(value), meta, path, "length")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            errors.append(f"Value {value} at '{path}' failed to satisfy constraint: "
                          f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"Value {value} at '{path}' failed to satisfy constraint: "
                          f"Member must have value less than or equal to {meta['max']}")
    return errors


def _bounds(size: int, meta: dict, path: str, what: str) -> list[str]:
    if "min" in meta and size < meta["min"]:
        return [f"Value at '{path}' failed to satisfy constraint: Member must have {what} greater than or equal to {meta['min']}"]
    if "max" in meta and size > meta["max"]:
        return [f"Value at '{path}' failed to satisfy constraint: Member must have {what} less than or equal to {meta['max']}"]
    return []


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
