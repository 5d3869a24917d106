"""The forecast task's decoding and scoring under the generic serving contract (handler.Response, media
types, 4xx that name what to fix, /ping, /execution-parameters).

Requests name series, and optionally a horizon up to the trained one:
    application/json    {"series": ["id", ...], "horizon": 12}   (or {"instances": [{"series": "id", "horizon": 12}]})
    text/csv            one series id per line, optionally ",horizon" after it
Answers: JSON {"forecasts": [{"series", "step", "timestamp", "mean", "lower", "upper"}, ...]}, or CSV rows
series,step,timestamp,mean,lower,upper in request order. An unknown id or a horizon beyond the trained
one is a 400 naming it.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pandas as pd

from common.errors import DataError

from . import media
from .errors import RequestError
from .handler import JSON_TYPE, MAX_ERROR_CHARS, Response, error

log = logging.getLogger("serving")
COLUMNS = ("series", "step", "timestamp", "mean", "lower", "upper")


def _requests(kind: str, body: bytes, charset: str) -> list[tuple[str, int | None]]:
    """(series id, horizon or None) per requested series, in order."""
    try:
        text = body.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise RequestError(400, f"body is not {charset or 'utf-8'} text") from None
    if kind == media.CSV:
        wanted = []
        for line_no, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not fields or not fields[0].strip():
                continue
            if len(fields) > 2 or (len(fields) == 2 and not fields[1].strip().isdigit()):
                raise RequestError(400, f"line {line_no}: expected 'series id[,horizon]', got {','.join(fields)[:100]!r}")
            wanted.append((fields[0].strip(), int(fields[1]) if len(fields) == 2 else None))
        return wanted
    if kind != media.JSON:
        raise RequestError(415, "forecast requests are application/json or text/csv")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(payload, dict) and "instances" in payload:
        items = payload["instances"]
        if not isinstance(items, list) or not all(isinstance(i, dict) and "series" in i for i in items):
            raise RequestError(400, "'instances' must be a list of {\"series\": id, \"horizon\": n}")
        return [(str(i["series"]), _horizon(i.get("horizon"))) for i in items]
    if isinstance(payload, dict) and "series" in payload:
        ids = payload["series"] if isinstance(payload["series"], list) else [payload["series"]]
        return [(str(i), _horizon(payload.get("horizon"))) for i in ids]
    raise RequestError(400, 'expected {"series": [ids], "horizon": n} or {"instances": [...]}')


def _horizon(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"horizon must be a whole number, got {json.dumps(value)[:50]}")
    return value


class ForecastHandler:
    def __init__(self, model, metadata: dict, max_payload_bytes: int = 6 * 1024 * 1024, max_concurrent_transforms: int = 1):
        self.model, self.metadata = model, metadata
        self.max_payload_bytes = max_payload_bytes
        self.max_concurrent_transforms = max_concurrent_transforms

    def ping(self) -> Response:
        return Response(200, b'{"status": "healthy"}', JSON_TYPE)

    def execution_parameters(self) -> Response:
        params = {"MaxConcurrentTransforms": self.max_concurrent_transforms,
                  "MaxPayloadInMB": max(1, self.max_payload_bytes // (1024 * 1024))}
        return Response(200, json.dumps(params).encode(), JSON_TYPE)

    def invocations(self, content_type: str | None, accept: str | None, body: bytes) -> Response:
        try:
            if len(body) > self.max_payload_bytes:
                raise RequestError(413, f"body of {len(body)} bytes exceeds the limit of {self.max_payload_bytes}")
            kind, charset, _ = media.reader(content_type)
            out_kind, out_type = media.writer(accept)
            wanted = _requests(kind, body, charset)
            if not wanted:
                raise RequestError(400, "no series requested")
            frames = []
            for horizon in dict.fromkeys(h for _, h in wanted):  # one call per distinct horizon
                ids = [sid for sid, h in wanted if h == horizon]
                try:
                    frames.append(self.model.forecast(ids, horizon))
                except DataError as exc:
                    raise RequestError(400, str(exc)) from None
            order = {sid: i for i, (sid, _) in enumerate(wanted)}
            result = pd.concat(frames).sort_values(["series", "step"], key=lambda c: c.map(order) if c.name == "series" else c,
                                                   kind="stable")
            return Response(200, self._encode(out_kind, result), out_type)
        except RequestError as exc:
            message = str(exc)[:MAX_ERROR_CHARS]
            log.info("%d: %s", exc.status, message)
            return error(exc.status, message)
        except Exception:
            log.exception("invocation failed")
            return error(500, "internal error while forecasting; the server log has the details")

    @staticmethod
    def _encode(kind: str, frame: pd.DataFrame) -> bytes:
        frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%S"))[list(COLUMNS)]
        if kind == media.CSV:
            return frame.to_csv(index=False, header=False).encode()
        return json.dumps({"forecasts": frame.to_dict("records")}).encode()
