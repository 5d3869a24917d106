"""The forecast task's decoding and scoring under the generic serving contract (handler.Response, media
types, 4xx that name what to fix, /ping, /execution-parameters).

Requests name series, and optionally a horizon up to the trained one:
    application/json    {"series": ["id", ...], "horizon": 12}   (or {"instances": [{"series": "id", "horizon": 12}]})
    text/csv            one series id per line, optionally ",horizon" after it
Answers: JSON {"forecasts": [{"series", "step", "timestamp", "mean", "lower", "upper"}, ...]}, or CSV rows
series,step,timestamp,mean,lower,upper in request order. An unknown id or a horizon beyond the trained
one is a 400 naming it.

JSON Lines (`application/jsonlines`, Batch Transform with SplitType=Line) holds one record per line,
`{"series": "id", "horizon": 12}` (horizon optional) or just `"id"`, and is answered with one line per
record, `{"series", "horizon", "forecasts": [{"step", "timestamp", "mean", "lower", "upper"}, ...]}`, so
the .out lines up with the input. A bad record (an unknown id, a horizon beyond the trained one):
SAGEMAKER_BATCH_BAD_RECORDS=fail (the default) answers 400 naming its line; `placeholder` answers
`{"error": "line N: ..."}` on its line. In batch mode only, a request naming no series (an empty body, or a
record without "series" such as `{}` or `{"horizon": 6}`) forecasts every series, one line each.
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


ALL_SERIES = object()  # a batch record naming no series: every one


def _line_requests(kind: str, body: bytes, charset: str) -> list[tuple[int, object, int | None] | tuple[int, str]]:
    """Per record: (line, series id or ALL_SERIES, horizon or None), or (line, message) when it is malformed."""
    try:
        text = body.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise RequestError(400, f"body is not {charset or 'utf-8'} text") from None
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            records.append((line_no, "empty line (every line of a SplitType=Line input is a record)"))
            continue
        try:
            if kind == media.CSV:
                (fields,) = list(csv.reader([line]))
                if len(fields) > 2 or (len(fields) == 2 and not fields[1].strip().isdigit()):
                    raise ValueError(f"expected 'series id[,horizon]', got {line[:100]!r}")
                records.append((line_no, fields[0].strip(), int(fields[1]) if len(fields) == 2 else None))
                continue
            item = json.loads(line)
            if isinstance(item, (str, int)) and not isinstance(item, bool):
                records.append((line_no, str(item), None))
            elif isinstance(item, dict):
                horizon = _horizon(item.get("horizon"))
                records.append((line_no, str(item["series"]) if "series" in item else ALL_SERIES, horizon))
            else:
                raise ValueError('expected "id" or {"series": id, "horizon": n}')
        except json.JSONDecodeError as exc:
            records.append((line_no, f"not JSON: {exc.msg} at column {exc.colno}"))
        except (ValueError, RequestError) as exc:
            records.append((line_no, str(exc)))
    return records


class ForecastHandler:
    def __init__(self, model, metadata: dict, max_payload_bytes: int = 6 * 1024 * 1024, max_concurrent_transforms: int = 1,
                 batch=None):
        from .batch import BatchOptions

        self.model, self.metadata = model, metadata
        self.max_payload_bytes = max_payload_bytes
        self.max_concurrent_transforms = max_concurrent_transforms
        self.batch = batch or BatchOptions(max_concurrent_transforms=max_concurrent_transforms)
        self._known = set(map(str, model.ids))

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
            if media.JSONL in (kind, out_kind):
                return Response(200, self._lines(kind, body, charset), out_type)
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

    def _lines(self, kind: str, body: bytes, charset: str) -> bytes:
        """JSON Lines: one answer line per record, in order (a no-series record in batch mode: every series)."""
        if kind not in (media.JSONL, media.CSV):
            raise RequestError(415, "JSON Lines answers take application/jsonlines or text/csv (one id per line)")
        if not body.strip():
            if not self.batch.enabled:
                raise RequestError(400, "no series requested")
            records = [(1, ALL_SERIES, None)]
        else:
            records = _line_requests(kind, body, charset)
        plan, bad = [], {}
        for record in records:
            if len(record) == 2:
                bad[record[0]] = f"line {record[0]}: {record[1]}"
                continue
            line_no, sid, horizon = record
            if sid is ALL_SERIES and not self.batch.enabled:
                bad[line_no] = f'line {line_no}: no "series" (forecasting every series is for batch transform jobs)'
            elif sid is not ALL_SERIES and sid not in self._known:
                bad[line_no] = f"line {line_no}: unknown series id {sid!r}"
            elif horizon is not None and not 1 <= horizon <= self.model.horizon:
                bad[line_no] = f"line {line_no}: horizon {horizon} is outside 1..{self.model.horizon} (the trained horizon)"
            else:
                plan.append((line_no, sid, horizon))
        if bad and self.batch.bad_records != "placeholder":
            first = min(bad)
            hint = " (SAGEMAKER_BATCH_BAD_RECORDS=placeholder answers a placeholder line instead)" if self.batch.enabled else ""
            raise RequestError(400, bad[first] + hint)
        answers: dict[int, list[bytes]] = {line_no: [json.dumps({"error": reason}).encode()] for line_no, reason in bad.items()}
        for horizon in dict.fromkeys(h for _, _, h in plan):  # one forecast call per distinct horizon
            chosen = [(line_no, sid) for line_no, sid, h in plan if h == horizon]
            named = list(dict.fromkeys(sid for _, sid in chosen if sid is not ALL_SERIES))
            every = any(sid is ALL_SERIES for _, sid in chosen)
            frame = self.model.forecast(None if every else named, horizon)
            by_series = self._by_series(frame)
            for line_no, sid in chosen:
                ids = list(by_series) if sid is ALL_SERIES else [sid]
                answers[line_no] = [by_series[i] for i in ids]
        # no final newline: AssembleWith=Line adds one after each response
        return b"\n".join(line for line_no, _ in sorted(answers.items()) for line in answers[line_no])

    @staticmethod
    def _by_series(frame: pd.DataFrame) -> dict[str, bytes]:
        frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%S"))
        out = {}
        for sid, rows in frame.groupby("series", sort=False):
            points = rows[["step", "timestamp", "mean", "lower", "upper"]].to_dict("records")
            out[str(sid)] = json.dumps({"series": str(sid), "horizon": len(points), "forecasts": points}).encode()
        return out

    @staticmethod
    def _encode(kind: str, frame: pd.DataFrame) -> bytes:
        frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%S"))[list(COLUMNS)]
        if kind == media.CSV:
            return frame.to_csv(index=False, header=False).encode()
        return json.dumps({"forecasts": frame.to_dict("records")}).encode()
