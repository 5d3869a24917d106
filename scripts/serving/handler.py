"""The inference contract as plain functions: (content type, accept, body) -> Response.

No HTTP here, so every content-type rule and error code is tested by calling it
(mlflow's scoring_server does the same). A client's mistake is a 4xx whose message
names what to fix; anything else is a 500 whose traceback goes to the log, never to
the client, and the handler stays usable after either.
"""

from __future__ import annotations

import json
import logging
from typing import NamedTuple

from . import media, outputs
from .batch import BatchOptions, CsvBatch
from .decode import Decoder
from .errors import RequestError
from .scorer import compile_scorer

log = logging.getLogger("serving")
JSON_TYPE = "application/json"
MAX_ERROR_CHARS = 1000


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str


def error(status: int, message: str) -> Response:
    return Response(status, json.dumps({"error": message}).encode(), JSON_TYPE)


class Handler:
    def __init__(self, model, max_payload_bytes: int = 6 * 1024 * 1024, scorer=None,
                 batch: BatchOptions | None = None):
        self.model = model
        self.max_payload_bytes = max_payload_bytes
        self.batch = batch or BatchOptions()
        self.decoder = Decoder(model.schema)
        self.scorer = scorer or compile_scorer(model)
        self.output = outputs.for_model(model)  # what a record's answer holds, by the model's kind

    def ping(self) -> Response:
        return Response(200, b'{"status": "healthy"}', JSON_TYPE)

    def execution_parameters(self) -> Response:
        """Batch Transform asks this once, before the first invocation: the concurrency and payload to use
        when the job's request names none (the request's own values win).

        No BatchStrategy: its spellings differ (AWS's docs and MMS answer MULTI_RECORD, the API's enum and
        the SDK's local mode want MultiRecord, and local mode fails the job on the other), every record is
        one line whichever strategy packed it, and without one both readers fall back to their default
        (local mode: MultiRecord); the transform step names MultiRecord in the job's request.
        """
        params = {"MaxConcurrentTransforms": self.batch.max_concurrent_transforms,
                  "MaxPayloadInMB": max(1, self.max_payload_bytes // (1024 * 1024))}
        return Response(200, json.dumps(params).encode(), JSON_TYPE)

    def invocations(self, content_type: str | None, accept: str | None, body: bytes) -> Response:
        try:
            if len(body) > self.max_payload_bytes:
                raise RequestError(413, f"body of {len(body)} bytes exceeds the limit of {self.max_payload_bytes} "
                                        "(SAGEMAKER_MAX_PAYLOAD_IN_MB); split the batch")
            kind, charset, params = media.reader(content_type)
            out_kind, out_type = media.writer(accept)
            if kind == media.JSONL or (self.batch.enabled and kind == media.CSV):  # one output line per input line
                return Response(200, CsvBatch(self, self.batch, kind).score(body, charset, params, out_kind), out_type)
            batch = self.decoder.decode(kind, body, charset, params)
            return Response(200, self.output.encode(out_kind, self.scorer.predict(batch)), out_type)
        except RequestError as exc:
            message = str(exc)
            if len(message) > MAX_ERROR_CHARS:  # a guard: messages quote client values only in part
                message = message[:MAX_ERROR_CHARS] + "..."
            log.info("%d: %s", exc.status, message)
            return error(exc.status, message)
        except Exception:
            log.exception("invocation failed")
            return error(500, "internal error while scoring; the server log has the details")
