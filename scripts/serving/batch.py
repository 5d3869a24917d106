"""Batch Transform's mini-batches (CSV, JSON Lines): one output line per input line, in order, in bounded memory.

With SplitType=Line the platform packs whole lines of an input object into each request, so
every line is a record and the answer must hold exactly one line per record for AssembleWith=Line
and DataProcessing joins to line up. The body (up to 100 MiB) is scored in slices of whole lines,
so the decoded columns, feature matrix and output text of only one slice exist at a time.

- A slice the fast path scores with exactly its line count is served as is. Otherwise (a bad
  value, a blank line, a quoted newline) its lines are decoded in groups, and a failing group's
  one by one, to find the bad ones:
  `fail` (the default) answers 400 naming the first bad line; `placeholder` answers a placeholder on
  each bad line and scores the others: in CSV an empty probability and the error in the label's
  column (`,"line 10: ..."`, the same field count, so joins keep their columns), in JSON Lines
  `{"error": "line 10: ..."}`, in JSON `{"probability": null, "label": null, "error": ...}`.
- JSON Lines (`application/jsonlines`): one record per line, an object by feature name or a list in
  training order; every batch answer holds one line per record. JSON Lines is line-based in
  real-time requests too.
- A header line is refused (decisions.md: SageMaker has no header-skip setting, and a skipped line
  would shift every output line against its input): strip it from the input files.
- The CSV answer carries no final newline: under AssembleWith=Line the platform, and the SDK's
  local mode, add one after each response, so a trailing one would leave a blank line per request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import media
from .errors import RequestError

SLICE_BYTES = 4 * 1024 * 1024
GROUP_LINES = 256  # a slice that fails is retried in groups of lines before line by line
# A bad record's output line under SAGEMAKER_BATCH_BAD_RECORDS=placeholder (decisions.md): in CSV the scores
# empty (missing to any CSV reader) and the error in the label's column, the field count of a scored line
# (serving.outputs has each kind's); in JSON Lines {"error": ...}; in JSON the record's keys set to null.
_SINGLE_ROW = re.compile(r"^row 1(?: \(line 1\))?(?=, |: )")  # the decoder's place, for a body of one line


@dataclass(frozen=True)
class BatchOptions:
    enabled: bool = False  # SAGEMAKER_BATCH
    bad_records: str = "fail"  # or "placeholder"
    max_concurrent_transforms: int = 1
    slice_bytes: int = SLICE_BYTES


def placeholder(output, out_kind: str, reason: str) -> str:
    """The line answered for a bad record, by the model's `output` (serving.outputs)."""
    if out_kind == media.CSV:
        return output.placeholder_csv(reason)
    if out_kind == media.JSONL:
        return json.dumps({"error": reason})
    return output.placeholder_json(reason)


class CsvBatch:
    """Scores one mini-batch of CSV lines (or JSON Lines: in_kind) with a Handler's decoder, scorer and encoder."""

    def __init__(self, handler, options: BatchOptions, in_kind: str = media.CSV):
        self.handler = handler
        self.options = options
        self.in_kind = in_kind

    def _decode(self, body: bytes, charset: str):
        """The rows of these lines (a JSON Lines group is decoded as the JSON list of its records)."""
        if self.in_kind == media.JSONL:
            return self.handler.decoder.decode(media.JSON, b"[" + body.replace(b"\n", b",") + b"]", charset)
        return self.handler.decoder.decode(media.CSV, body, charset, {"header": "absent"})

    def score(self, body: bytes | bytearray, charset: str, params: dict, out_kind: str) -> bytes:
        header = "absent" if self.in_kind == media.JSONL else params.get("header", "").strip().lower()
        if header == "present":
            raise RequestError(400, "Content-Type header=present cannot apply to Batch Transform mini-batches "
                                    "(only the first holds the header); strip the header line from the input files")
        if header not in ("", "absent"):
            raise RequestError(400, f"Content-Type parameter header={header!r}: in a batch job only "
                                    "header=absent (or none) applies")
        end = len(body)
        if body.endswith(b"\n"):  # the last record's line end, not an empty record after it
            end -= 1
        if end == 0:
            raise RequestError(400, "empty request body")
        decoder = self.handler.decoder
        if header != "absent":
            first = decoder._first_record(bytes(body[: min(end, 1 << 20)]))
            if decoder._is_header(first):
                raise RequestError(400, "line 1 is a header row; a Batch Transform job with SplitType=Line sends "
                                        "every line as a record and has no header-skip setting: remove the header "
                                        "line from the input files (or send text/csv; header=absent if it is data)")
        parts, start, line, size = [], 0, 1, self.options.slice_bytes
        with memoryview(body) as view:
            while start <= end:
                stop = end if end - start <= size else body.rfind(b"\n", start, start + size)
                if stop < start:  # one line longer than a slice: take it whole
                    stop = body.find(b"\n", start, end)
                    stop = end if stop < 0 else stop
                chunk = bytes(view[start:stop])
                parts.append(self._slice(chunk, line, charset, out_kind))
                line += chunk.count(b"\n") + 1
                start = stop + 1
        if out_kind in (media.CSV, media.JSONL):  # every part ends with a newline; the platform adds the last one
            parts[-1] = parts[-1][:-1]
            return b"".join(parts)
        return b'{"predictions":[' + b",".join(parts) + b"]}"

    def _slice(self, chunk: bytes, first_line: int, charset: str, out_kind: str) -> bytes:
        """Output lines (CSV, each ending with a newline) or JSON records (joined by commas) for these lines."""
        lines = chunk.count(b"\n") + 1
        try:
            batch = self._decode(chunk, charset)
            if batch.rows == lines:
                return self._encode(batch, out_kind)
        except RequestError:
            pass
        return self._line_by_line(chunk.split(b"\n"), first_line, charset, out_kind)

    def _decodes(self, body: bytes, lines: int, charset: str) -> bool:
        try:
            return self._decode(body, charset).rows == lines
        except RequestError:
            return False

    def _encode(self, batch, out_kind: str) -> bytes:
        if out_kind == media.JSONL:
            return ("\n".join(self._rows(batch, out_kind)) + "\n").encode()
        encoded = self.handler.output.encode(out_kind, self.handler.scorer.predict(batch))
        if out_kind == media.CSV:
            return encoded
        return encoded[len(b'{"predictions":['):-len(b"]}")]

    def _line_by_line(self, records: list[bytes], first_line: int, charset: str, out_kind: str) -> bytes:
        decoder, bad = self.handler.decoder, {}
        for start in range(0, len(records), GROUP_LINES):  # whole groups first: only a failing one goes line by line
            group = records[start:start + GROUP_LINES]
            if self._decodes(b"\n".join(group), len(group), charset):
                continue
            for i, record in enumerate(group, start):
                try:
                    if not record.strip():
                        raise RequestError(400, "empty line (every line of a SplitType=Line input is a record)")
                    if self._decode(record, charset).rows != 1:
                        raise RequestError(400, "not one record")
                except RequestError as exc:
                    message, named = _SINGLE_ROW.subn(f"line {first_line + i}", str(exc), count=1)
                    reason = message if named else f"line {first_line + i}: {message}"
                    if self.options.bad_records == "fail":
                        raise RequestError(exc.status, f"{reason} (SAGEMAKER_BATCH_BAD_RECORDS=placeholder answers "
                                                       "a placeholder line instead)") from None
                    bad[i] = reason
        good = [record for i, record in enumerate(records) if i not in bad]
        scored = self._rows(self._decode(b"\n".join(good), charset), out_kind) if good else []
        out, taken = [], 0
        for i in range(len(records)):
            if i in bad:
                out.append(placeholder(self.handler.output, out_kind, bad[i]))
            else:
                out.append(scored[taken])
                taken += 1
        if out_kind in (media.CSV, media.JSONL):
            return ("\n".join(out) + "\n").encode()
        return ",".join(out).encode()

    def _rows(self, batch, out_kind: str) -> list[str]:
        """One output text per row, as the handler's output writes them."""
        return self.handler.output.rows(out_kind, self.handler.scorer.predict(batch))
