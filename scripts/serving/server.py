"""`serve`: SageMaker's inference process. Honest health first, then gunicorn.

1. Bind the port at once and answer every request 503 (JSON body: loading, or why it failed)
   from a small gate thread, so /ping is never healthy before the model is.
2. Load the artifact (SHA-256 checked), run its self-test, compile the fast scorer and
   score the sample rows through the full handler.
3. Success: stop the gate, hand the same listening socket to gunicorn (`fd://`), whose
   workers fork from this process and share the loaded model (preload). No connection
   is refused meanwhile: it waits in the listen backlog.
   Failure: log why and keep answering 503 with the reason until SIGTERM.

SIGTERM: gunicorn stops accepting, lets in-flight requests finish (GRACEFUL_TIMEOUT,
below SageMaker's 30 s before SIGKILL) and exits 0.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import socket
import sys
import threading

from contract import layout
from common.errors import ConfigError, StepError
from contract.serving import ServingConfig, serving_config

log = logging.getLogger("serving")
GRACEFUL_TIMEOUT = 20
# Sync workers: one request at a time per process, the arbiter kills one stuck past the timeout,
# and nothing competes with scoring for the GIL; see bench/README.md for the comparison with gthread.
WORKER_CLASS = "sync"


class _Gate(http.server.ThreadingHTTPServer):
    """503 for everything, on an already-bound socket."""

    daemon_threads = True

    def __init__(self, sock: socket.socket, limit: int):
        super().__init__(sock.getsockname()[:2], _GateHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.limit = limit
        self.reply = {"status": "loading", "reason": "the model is being loaded"}


class _GateHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while 0 < length <= 4 * self.server.limit:  # drain the body so the client sees the answer, not a reset
            length -= len(self.rfile.read(min(length, 1 << 16))) or length  # in pieces: a 100 MiB body stays out of memory
        body = json.dumps(self.server.reply).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # pings every few seconds: no log line each
        pass


def _is_forecast(model_dir) -> bool:
    """A forecast artifact (model-<host>.npz parts; its loader checks that metadata.json names the task). Decided
    without reading metadata.json, which the task's own loader reads once (it may be a pipe, as a test makes it)."""
    from tasks.forecast.artifact import is_artifact

    return is_artifact(model_dir)


def load_forecast_handler(config: ServingConfig):
    from tasks.forecast import artifact

    from .forecast import ForecastHandler

    model, metadata = artifact.load(layout.model_dir())
    artifact.self_test(model, metadata)
    from .batch import BatchOptions

    handler = ForecastHandler(model, metadata, config.max_payload_bytes, config.max_concurrent_transforms,
                              batch=BatchOptions(config.batch, config.bad_records, config.max_concurrent_transforms))
    sample = json.dumps({"series": metadata.get("sample_series") or model.ids[:1]}).encode()
    answer = handler.invocations("application/json", "application/json", sample)
    if answer.status != 200:
        raise RuntimeError(f"forecasting the artifact's sample series gave {answer.status}: {answer.body[:500]!r}")
    log.info("forecast model %s loaded from %s: %d series, horizon %d, season %d",
             metadata.get("model_sha256", "?")[:12], layout.model_dir(), len(model.ids), model.horizon, model.season)
    return handler


def load_handler(config: ServingConfig):
    """Everything that must succeed before /ping may say healthy; raises with the reason."""
    from tasks.classifier import artifact

    from .batch import BatchOptions
    from .handler import Handler

    if _is_forecast(layout.model_dir()):
        return load_forecast_handler(config)
    model = artifact.load(layout.model_dir())
    model.self_test()
    handler = Handler(model, config.max_payload_bytes, batch=BatchOptions(
        config.batch, config.bad_records, config.max_concurrent_transforms))
    sample = model.sample_rows()[list(model.schema.features)].to_csv(index=False, header=False).encode()  # headerless, as batch input is
    answer = handler.invocations("text/csv", "application/json", sample)
    if answer.status != 200:
        raise RuntimeError(f"scoring the artifact's sample rows gave {answer.status}: {answer.body[:500]!r}")
    log.info("%s model %s loaded from %s: %d features, threshold %s, %s scorer", model.schema.kind,
             model.metadata.get("model_sha256", "?")[:12], layout.model_dir(), len(model.schema.features),
             model.threshold, handler.scorer.name)
    if config.batch:
        log.info("batch transform: payload up to %d MiB, %d concurrent transforms, %d s per request, "
                 "bad records: %s", config.payload_mb, config.max_concurrent_transforms, config.timeout,
                 config.bad_records)
    return handler


def gunicorn_options(config: ServingConfig, fd: int) -> dict:
    return {
        "bind": [f"fd://{fd}"],
        "workers": config.workers,
        "worker_class": WORKER_CLASS,
        "timeout": config.timeout,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "preload_app": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "serve",
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "control_socket_disable": True,  # gunicorn >= 25 would otherwise create ~/.gunicorn/gunicorn.ctl
    }


def run_gunicorn(app, options: dict) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    if argv not in ([], ["serve"]):
        log.error("usage: serve  (got arguments %s)", argv)
        return 2
    try:
        config = serving_config()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2

    def on_signal(signum, frame):
        raise SystemExit(0)  # interrupts a load in progress; gunicorn installs its own handlers later

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        sock = socket.create_server((config.host, config.port), backlog=2048)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
        return 1
    gate = _Gate(sock, config.max_payload_bytes)
    gate_thread = threading.Thread(target=gate.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    gate_thread.start()
    log.info("listening on %s:%d (503 until the model is loaded)", config.host, config.port)
    try:
        handler = load_handler(config)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("model failed to load, /ping stays 503: %s", reason, exc_info=not isinstance(exc, StepError))
        gate.reply = {"status": "failed", "reason": reason}
        try:
            while True:
                signal.pause()  # until SIGTERM or SIGINT, whose handler raises SystemExit
        except SystemExit:
            return 1
    gate.shutdown()
    gate_thread.join()
    from .app import make_app

    run_gunicorn(make_app(handler), gunicorn_options(config, sock.detach()))
    return 0
