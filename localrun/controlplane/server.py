"""The control plane in one process: the API on one port, each endpoint on its own.

`POST /` answers the SageMaker and Application Auto Scaling JSON APIs (told apart by the
X-Amz-Target prefix); `POST /endpoints/{name}/invocations` is sagemaker-runtime's InvokeEndpoint;
`GET /ping` says the control plane is up.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import threading
from pathlib import Path
from urllib.parse import unquote

from .autoscaling import Autoscaling
from .db import Store
from .deployment import ENDPOINT, Hosting, make_engine
from .hosting import sample_rows_request
from .operations import LIVE, HostingApi
from .protocol import JsonService
from .proxy import runtime_answer
from .registry import Registry

log = logging.getLogger("controlplane")


class ControlPlane:
    def __init__(self, state_dir: Path, engine=None, engine_name: str = "process", smoke=sample_rows_request):
        self.state_dir = Path(state_dir)
        self.store = Store(self.state_dir / "state.db")
        self.hosting = Hosting(self.store, self.state_dir, engine or make_engine(engine_name), engine_name, smoke)
        registry = Registry(self.store)
        self.services = {
            service.prefix: service for service in (
                JsonService("sagemaker", {**registry.handlers(), **HostingApi(self.hosting, registry).handlers()}),
                JsonService("application-autoscaling", Autoscaling(self.store).handlers()),
            )}
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> str:
        """Serve the API on 127.0.0.1:port (0: any free port) and restore the stored endpoints."""
        plane = self

        class Handler(_ApiHandler):
            control = plane

        try:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="controlplane-api", daemon=True).start()
        self.restore()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def restore(self) -> None:
        """After a restart: stop hosts a crashed daemon left behind, then bring every live endpoint back
        on its own port with the config it last completed (an update cut short is rolled back)."""
        for row in self.store.recorded_hosts():
            _stop_orphan(row["ref"], row["kind"], row["tree"])
            self.store.forget_host(row["endpoint"], row["ref"])
        for body in self.store.all(ENDPOINT):
            if body["EndpointStatus"] not in LIVE:
                continue
            name = body["EndpointName"]
            interrupted = body.get("_PendingConfig")
            config = self.store.get("EndpointConfig", body["EndpointConfigName"]) or {}
            port = self.hosting.open(name, body.get("_Port") or 0, config.get("DataCaptureConfig"))
            reason = f"update to {interrupted} interrupted by a control plane restart" if interrupted else None
            self.hosting.set_endpoint(name, _Port=port, EndpointStatus="Updating" if body["EndpointStatus"] != "Creating"
                                      else "Creating", _PendingConfig=None, FailureReason=reason)
            self.hosting.background(self.hosting.bring_up, name, body["EndpointConfigName"], reason)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.hosting.close()

    def endpoint_url(self, name: str) -> str | None:
        body = self.store.get(ENDPOINT, name)
        return f"http://127.0.0.1:{body['_Port']}" if body and body.get("_Port") else None


def _stop_orphan(ref: str, kind: str, tree: str) -> None:
    """A host process (or container) recorded by a daemon that did not stop it: end it, if it is still ours."""
    if kind == "process" and ref.isdigit():
        try:
            environ = Path(f"/proc/{ref}/environ").read_bytes().split(b"\0")
        except OSError:
            return
        if f"SAGEMAKER_BASE_DIR={tree}".encode() in environ:
            try:
                os.kill(int(ref), signal.SIGTERM)
            except OSError:
                pass
    elif kind == "docker":
        try:
            import docker

            docker.from_env().containers.get(ref).remove(force=True)
        except Exception as exc:  # gone already, or no engine: nothing to stop
            log.info("container %s: %s", ref, exc)


class _ApiHandler(http.server.BaseHTTPRequestHandler):
    control: ControlPlane
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/ping":
            return self._send(200, {"Content-Type": "application/json"}, b'{"status": "up"}')
        self._send(404, {"Content-Type": "application/json"}, b'{"message": "not found"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/endpoints/") and self.path.endswith("/invocations"):
            name = unquote(self.path[len("/endpoints/"):-len("/invocations")])
            runtime = self.control.hosting.runtimes.get(name)
            headers = {k: v for k, v in self.headers.items()}
            return self._send(*runtime_answer(runtime, name, body, headers))
        target = self.headers.get("X-Amz-Target", "")
        service = self.control.services.get(target.partition(".")[0])
        if self.path != "/" or service is None:
            error = {"__type": "UnknownOperationException", "message": f"no operation at {self.path} {target!r}"}
            return self._send(400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(error).encode())
        try:
            status, answer = service.handle(target, body, self.headers.get("Authorization"))
        except Exception as exc:  # a bug: AWS's 500 shape, and the traceback in the log
            log.exception("%s failed", target)
            status, answer = 500, {"__type": "InternalFailure", "message": f"{type(exc).__name__}: {exc}"}
        self._send(status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer).encode())

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
