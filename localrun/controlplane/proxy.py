"""An endpoint's stable front: routes each request to a host by variant weight, during a
blue/green shift splits traffic between the current and the new fleet, counts the new fleet's
errors, and sets `X-Amzn-Invoked-Production-Variant` on every answer."""

from __future__ import annotations

import http.client
import http.server
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass

from .capture import Capture
from .hosting import Fleet, Host, Variant

VARIANT_HEADER = "X-Amzn-Invoked-Production-Variant"
RETRYABLE = (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected)


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    variant: str
    candidate: bool = False


class Routing:
    """The live traffic split of one endpoint; every change is atomic under one lock."""

    def __init__(self, fleet: Fleet | None = None):
        self.lock = threading.Condition()
        self.current = fleet
        self.candidate: Fleet | None = None
        self.share = 0.0  # of requests to the candidate fleet
        self.inflight: Counter = Counter()
        self.candidate_requests = 0
        self.candidate_errors = 0

    def begin(self, candidate: Fleet) -> None:
        with self.lock:
            self.candidate, self.share = candidate, 0.0
            self.candidate_requests = self.candidate_errors = 0

    def shift(self, share: float) -> None:
        with self.lock:
            self.share = share

    def promote(self) -> Fleet | None:
        """The candidate becomes current; returns the old fleet, which takes no new requests."""
        with self.lock:
            old, self.current, self.candidate, self.share = self.current, self.candidate, None, 0.0
            return old

    def abandon(self) -> Fleet | None:
        """Roll back: all traffic to the current fleet; returns the candidate."""
        with self.lock:
            candidate, self.candidate, self.share = self.candidate, None, 0.0
            return candidate

    def drain(self, fleet: Fleet, timeout: float = 60) -> None:
        """Wait until no request is in flight on any host of a fleet that takes no new ones."""
        hosts = {id(host) for host in fleet.hosts()}
        with self.lock:
            self.lock.wait_for(lambda: not any(self.inflight[h] for h in hosts), timeout=timeout)

    def choose(self, target_variant: str | None) -> tuple[Variant, Host, bool]:
        with self.lock:
            use_candidate = self.candidate is not None and random.random() < self.share
            fleet = self.candidate if use_candidate else self.current
            if fleet is None:
                raise LookupError("the endpoint has no hosts")
            variants = fleet.variants
            if target_variant:
                variants = [v for v in variants if v.name == target_variant]
                if not variants:
                    raise KeyError(target_variant)
            weights = [v.weight for v in variants]
            variant = random.choices(variants, weights=weights if any(weights) else None)[0]
            host = variant.pick()
            self.inflight[id(host)] += 1
            if use_candidate:
                self.candidate_requests += 1
            return variant, host, use_candidate

    def done(self, host: Host, candidate: bool, failed: bool) -> None:
        with self.lock:
            self.inflight[id(host)] -= 1
            if candidate and failed:
                self.candidate_errors += 1
            self.lock.notify_all()

    def error_rate(self) -> tuple[int, int]:
        with self.lock:
            return self.candidate_errors, self.candidate_requests


class EndpointRuntime:
    """What answers an endpoint's invocations: its routing, its data capture and its listener."""

    def __init__(self, name: str, routing: Routing, capture: Capture):
        self.name, self.routing, self.capture = name, routing, capture
        self.listener: http.server.ThreadingHTTPServer | None = None

    def invoke(self, body: bytes, headers: dict[str, str], target_variant: str | None = None) -> Answer:
        forwarded = {"Content-Type": headers.get("Content-Type") or "application/octet-stream",
                     "Accept": headers.get("Accept") or "application/json"}
        for name in ("X-Amzn-SageMaker-Custom-Attributes",):
            if headers.get(name):
                forwarded[name] = headers[name]
        last_error: Exception | None = None
        for _ in range(3):  # a host that refuses the connection is skipped, not reported to the client
            variant, host, candidate = self.routing.choose(target_variant)
            failed = True
            try:
                connection = http.client.HTTPConnection(*host.address, timeout=60)
                try:
                    connection.request("POST", "/invocations", body=body, headers=forwarded)
                    response = connection.getresponse()
                    answer = Answer(response.status, response.read(),
                                    response.getheader("Content-Type", "application/octet-stream"),
                                    variant.name, candidate)
                finally:
                    connection.close()
                failed = answer.status >= 500
            except RETRYABLE as exc:
                last_error = exc
                continue
            finally:
                self.routing.done(host, candidate, failed)
            if answer.status < 400:
                self.capture.record(variant.name, forwarded["Content-Type"], body, answer.content_type, answer.body,
                                    headers.get("X-Amzn-SageMaker-Inference-Id"))
            return answer
        raise ConnectionError(f"no host of endpoint {self.name} accepted the request: {last_error}")

    def serve(self, port: int) -> int:
        """Listen on 127.0.0.1:port (0: any free port) for /invocations and /ping; returns the port."""
        runtime = self

        class Handler(_Handler):
            endpoint = runtime

        self.listener = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.listener.daemon_threads = True
        threading.Thread(target=self.listener.serve_forever, name=f"endpoint-{self.name}", daemon=True).start()
        return self.listener.server_address[1]

    def close(self) -> None:
        if self.listener is not None:
            self.listener.shutdown()
            self.listener.server_close()
            self.listener = None


def runtime_answer(runtime: EndpointRuntime | None, name: str, body: bytes, headers) -> tuple[int, dict, bytes]:
    """The sagemaker-runtime InvokeEndpoint answer: the model's 2xx as is, anything else as AWS wraps it."""
    if runtime is None:
        return _runtime_error(400, "ValidationError", f"Endpoint {name} of account 000000000000 not found.")
    try:
        answer = runtime.invoke(body, headers, headers.get("X-Amzn-SageMaker-Target-Variant"))
    except KeyError as exc:
        return _runtime_error(400, "ValidationError", f"Variant {exc.args[0]} not found for endpoint {name}.")
    except (LookupError, ConnectionError) as exc:
        return _runtime_error(503, "ServiceUnavailable", str(exc))
    if answer.status < 300:
        return answer.status, {"Content-Type": answer.content_type, VARIANT_HEADER: answer.variant}, answer.body
    kind = "client" if answer.status < 500 else "server"
    message = answer.body.decode(errors="replace")
    error = {"ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL", "OriginalStatusCode": answer.status,
             "OriginalMessage": message, "LogStreamArn": f"local:{name}/{answer.variant}",
             "Message": f'Received {kind} error ({answer.status}) from primary with message "{message}". '}
    return 424, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError", VARIANT_HEADER: answer.variant}, \
        json.dumps(error).encode()


def _runtime_error(status: int, code: str, message: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, \
        json.dumps({"message": message}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    """An endpoint's own port: the container's paths (answers as the model gives them) and the runtime path."""

    endpoint: EndpointRuntime
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != "/ping":
            return self._send(404, {"Content-Type": "application/json"}, b'{"message": "not found"}')
        healthy = self.endpoint.routing.current is not None
        self._send(200 if healthy else 503, {"Content-Type": "application/json"},
                   json.dumps({"status": "healthy" if healthy else "no hosts"}).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items()}
        if self.path == f"/endpoints/{self.endpoint.name}/invocations":
            return self._send(*runtime_answer(self.endpoint, self.endpoint.name, body, headers))
        if self.path != "/invocations":
            return self._send(404, {"Content-Type": "application/json"}, b'{"message": "not found"}')
        try:
            answer = self.endpoint.invoke(body, headers)
        except (LookupError, ConnectionError) as exc:
            return self._send(503, {"Content-Type": "application/json"}, json.dumps({"message": str(exc)}).encode())
        self._send(answer.status, {"Content-Type": answer.content_type, VARIANT_HEADER: answer.variant}, answer.body)

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
