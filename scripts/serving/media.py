"""Content negotiation: which reader a Content-Type names and which writer an Accept allows.

MIME types are split from their parameters (`text/csv; charset=utf-8`) and compared
case-insensitively, as RFC 9110 says; AWS's containers compare the raw string and
reject what clients such as `requests` send by default.
"""

from __future__ import annotations

import codecs

from .errors import RequestError

CSV, JSON, ARROW, PARQUET = "csv", "json", "arrow", "parquet"
JSONL = "jsonl"  # one JSON record per line in, one result per line out (Batch Transform's SplitType=Line)

READERS = {
    "text/csv": CSV,
    "application/json": JSON,
    "application/jsonlines": JSONL,
    "application/vnd.apache.arrow.stream": ARROW,
    "application/x-parquet": PARQUET,
    "application/vnd.apache.parquet": PARQUET,
}
WRITERS = {"application/json": JSON, "text/csv": CSV, "application/jsonlines": JSONL}
DEFAULT_WRITER = "application/json"
_WILDCARDS = {"*/*": DEFAULT_WRITER, "application/*": "application/json", "text/*": "text/csv"}


def split(value: str) -> tuple[str, dict[str, str]]:
    """'Text/CSV; charset="UTF-8"' -> ('text/csv', {'charset': 'UTF-8'})."""
    kind, *rest = value.split(";")
    params = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower(), params


def reader(content_type: str | None) -> tuple[str, str, dict[str, str]]:
    """(reader name, charset, parameters) for a Content-Type; 415 for anything else."""
    kind, params = split(content_type or "")
    if kind not in READERS:
        shown = f"'{_capped(content_type)}'" if content_type else "no Content-Type"
        raise RequestError(415, f"unsupported content type: {shown}; send one of {sorted(READERS)}")
    charset = params.get("charset", "utf-8").lower()
    try:
        info = codecs.lookup(charset)
        if not getattr(info, "_is_text_encoding", True):  # base64, zlib, rot13...: not a charset
            raise LookupError(charset)
        charset = info.name
    except (LookupError, ValueError, TypeError):
        raise RequestError(415, f"unsupported charset '{_capped(charset)}' in Content-Type '{_capped(content_type)}'") from None
    return READERS[kind], charset, params


def writer(accept: str | None) -> tuple[str, str]:
    """(writer name, MIME type) for an Accept header; no header means JSON; 406 if nothing fits."""
    if not accept or not accept.strip():
        return WRITERS[DEFAULT_WRITER], DEFAULT_WRITER
    offers = []
    for position, item in enumerate(accept.split(",")):
        kind, params = split(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            offers.append((-quality, position, kind))
    for _, _, kind in sorted(offers):  # highest q first, then the client's order
        chosen = WRITERS.get(kind) and kind or _WILDCARDS.get(kind)
        if chosen:
            return WRITERS[chosen], chosen
    raise RequestError(406, f"cannot answer with Accept '{_capped(accept)}'; accepted: {sorted(WRITERS)}")


def _capped(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
