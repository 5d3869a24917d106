"""The thin WSGI adapter: routes, the body size limit, and nothing else (the rules live in handler.py)."""

from __future__ import annotations

from .handler import Handler, Response, error

_CHUNK = 1 << 16
_LARGE = 1 << 20


def _read_body(environ, limit: int) -> bytes | None:
    """The body, or None when it exceeds `limit` (read and dropped, so the client sees the 413)."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if 0 <= length <= limit:
        return _read_exactly(stream, length)
    if length > limit:
        if length <= 4 * limit:  # drain a moderately large body; beyond that just answer and close
            while stream.read(_CHUNK):
                pass
        return None
    body = stream.read(limit + 1)  # chunked: no length given
    if len(body) > limit:
        while stream.read(_CHUNK):
            pass
        return None
    return body


def _read_exactly(stream, length: int) -> bytes | bytearray:
    """`length` bytes read in pieces into one buffer: a single read() of 100 MiB costs twice that at its peak
    (the server's reader gathers pieces in a BytesIO, then copies them out)."""
    if length <= _LARGE:
        return stream.read(length)
    body = bytearray(length)
    view, filled = memoryview(body), 0
    while filled < length:
        piece = stream.read(min(_LARGE, length - filled))
        if not piece:
            break
        view[filled:filled + len(piece)] = piece
        filled += len(piece)
    view.release()
    if filled < length:
        del body[filled:]  # a short body: the decoder sees what came, as read() would return it
    return body


def make_app(handler: Handler):
    limit = handler.max_payload_bytes

    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/invocations" and method == "POST":
            body = _read_body(environ, limit)
            if body is None:
                response = error(413, f"body exceeds the limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB); "
                                      "split the batch")
            else:
                response = handler.invocations(environ.get("CONTENT_TYPE"), environ.get("HTTP_ACCEPT"), body)
        elif path == "/ping" and method in ("GET", "HEAD"):
            response = handler.ping()
        elif path == "/execution-parameters" and method == "GET":
            response = handler.execution_parameters()
        elif path in ("/invocations", "/ping", "/execution-parameters"):
            response = error(405, f"{method} is not allowed on {path}")
        else:
            response = error(404, f"no such path {path}; use GET /ping or POST /invocations")
        return _send(start_response, response, method)

    return app


def _send(start_response, response: Response, method: str):
    headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
    start_response(f"{response.status} {_REASONS.get(response.status, '')}", headers)
    return [b""] if method == "HEAD" else [response.body]


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
            413: "Content Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
            503: "Service Unavailable"}
