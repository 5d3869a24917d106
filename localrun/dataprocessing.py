"""Batch Transform's DataProcessing for CSV lines, as the platform applies it outside the container.

InputFilter picks the fields sent to the container, JoinSource=Input appends the container's output
fields to the whole input line, OutputFilter picks the fields written to the .out. For CSV the JSONPath
is an index filter: `$` (everything), `$[i]`, `$[a:b]`, `$[i,j,a:]`, negative indices counting from the
end (`$[0,-1]`: the first field and the last). JSON paths (`$.features`) are the JSON Lines case, not
supported here: the runner refuses them before the job starts.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Callable

from common.errors import ConfigError

Picker = Callable[[list[str]], list[str]]
_ITEM = re.compile(r"^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*$")


def picker(expression: str | None, setting: str) -> Picker | None:
    """The fields an index filter keeps, in its order; None for `$` or no filter (every field)."""
    if expression is None or expression.strip() in ("", "$"):
        return None
    text = expression.strip()
    if not (text.startswith("$[") and text.endswith("]")):
        raise ConfigError(f"{setting} {expression!r}: this runner supports CSV index filters such as $[1:] or $[0,-1]")
    items = []
    for part in text[2:-1].split(","):
        match = _ITEM.match(part)
        if not match or part.strip() == "" or part.strip() == ":":
            raise ConfigError(f"{setting} {expression!r}: {part.strip()!r} is not an index or a slice")
        start, colon, stop = match.groups()
        if colon:
            items.append(slice(int(start) if start else None, int(stop) if stop else None))
        elif stop is None:
            items.append(int(start))
        else:
            raise ConfigError(f"{setting} {expression!r}: {part.strip()!r} is not an index or a slice")

    def pick(fields: list[str]) -> list[str]:
        chosen = []
        for item in items:
            if isinstance(item, slice):
                chosen.extend(fields[item])
            elif -len(fields) <= item < len(fields):
                chosen.append(fields[item])
            else:
                raise ValueError(f"{setting} {expression!r}: the line has {len(fields)} fields, no field {item}")
        return chosen

    return pick


def fields_of(line: bytes) -> list[str]:
    text = line.decode("utf-8").rstrip("\r\n")
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]))


def line_of(fields: list[str]) -> bytes:
    if not any(c in field for field in fields for c in ',"\r\n'):
        return (",".join(fields) + "\n").encode("utf-8")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue().encode("utf-8")


class DataProcessing:
    def __init__(self, input_filter: str | None, join_source: str | None, output_filter: str | None):
        if join_source not in (None, "None", "Input"):
            raise ConfigError(f"JoinSource {join_source!r}: use Input or None")
        self.input_pick = picker(input_filter, "InputFilter")
        self.join = join_source == "Input"
        self.output_pick = picker(output_filter, "OutputFilter")

    @property
    def active(self) -> bool:
        return bool(self.input_pick or self.join or self.output_pick)

    def request_record(self, record: bytes) -> bytes:
        """The part of an input line the container gets."""
        return record if self.input_pick is None else line_of(self.input_pick(fields_of(record)))

    def output_line(self, record: bytes, answer: bytes) -> bytes:
        """The .out line for one input line and the container's line for it."""
        if not self.join and self.output_pick is None:
            return answer
        fields = (fields_of(record) if self.join else []) + fields_of(answer)
        return line_of(self.output_pick(fields) if self.output_pick else fields)
