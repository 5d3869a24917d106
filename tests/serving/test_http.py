"""`scripts/serve` over real HTTP on 127.0.0.1: content types, error codes, health, bursts and SIGTERM."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serve_process import SERVE, Server, serving_tree, wait_until
from serving.server import GRACEFUL_TIMEOUT

CSV = {"Content-Type": "text/csv"}


def scores(status, body, content_type) -> list:
    assert status == 200, body
    if content_type == "text/csv":
        return [(float(p), label) for p, label in (line.split(",") for line in body.decode().splitlines())]
    return [(r["probability"], r["label"]) for r in json.loads(body)["predictions"]]


def expected(model, frame) -> list:
    proba = model.predict_proba(frame)
    return list(zip(proba.tolist(), model.label(proba).tolist()))


def approx(pairs):
    return [(pytest.approx(p, abs=1e-12), label) for p, label in pairs]


def arrow_bytes(frame) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def parquet_bytes(frame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def test_every_content_type_and_accept(server, model, rows):
    frame = rows.head(120)
    features = frame[list(model.schema.features)]
    bodies = {
        "text/csv; charset=utf-8": frame.to_csv(index=False).encode(),
        "text/csv": features.to_csv(index=False, header=False).encode(),
        "application/json": frame.to_json(orient="records").encode(),
        "application/json; charset=utf-8": b'{"instances": ' + features.to_json(orient="values").encode() + b"}",
        "application/vnd.apache.arrow.stream": arrow_bytes(frame),
        "application/x-parquet": parquet_bytes(frame),
    }
    want = approx(expected(model, frame))
    for content_type, body in bodies.items():
        for accept, answer_type in [(None, "application/json"), ("application/json", "application/json"),
                                    ("text/csv", "text/csv")]:
            headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
            status, answer, answered_type = server.request("POST", "/invocations", body, headers)
            assert answered_type == answer_type
            assert scores(status, answer, answered_type) == want, (content_type, accept)


@pytest.mark.parametrize("body,headers,status,fragment", [
    (b'1,"open\n', CSV, 400, "malformed CSV at line"),
    (b"1,2,3\n", CSV, 400, "row 1 (line 1): 3 fields, expected 22"),
    (None, CSV, 400, "row 1 (line 2), column 'int_rate': 'high' is not a number"),
    (b"<rows/>", {"Content-Type": "application/xml"}, 415, "unsupported content type"),
    (None, {"Content-Type": "text/csv", "Accept": "application/xml"}, 406, "cannot answer"),
    (b"x" * (64 * 1024 + 1), CSV, 413, "exceeds the limit"),
])
def test_client_errors_are_4xx_and_the_server_keeps_serving(server, rows, body, headers, status, fragment):
    if body is None:
        frame = rows.head(2).astype(object)
        frame.loc[0, "int_rate"] = "high"
        body = frame.to_csv(index=False).encode()
    answer_status, answer, content_type = server.request("POST", "/invocations", body, headers)
    assert (answer_status, content_type) == (status, "application/json")
    assert fragment in json.loads(answer)["error"]
    assert "Traceback" not in answer.decode()
    assert server.request("POST", "/invocations", rows.head(1).to_csv(index=False).encode(), CSV)[0] == 200


def test_chunked_body_over_the_limit_is_413(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = (b"1" * 8192 for _ in range(10))  # 80 KiB without a Content-Length
    connection.request("POST", "/invocations", body=chunks, headers=CSV, encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()


def test_routes(server):
    assert server.request("GET", "/ping")[:2] == (200, b'{"status": "healthy"}')
    assert server.request("HEAD", "/ping")[:2] == (200, b"")
    assert server.request("GET", "/invocations")[0] == 405
    assert server.request("POST", "/nowhere", b"")[0] == 404
    assert json.loads(server.request("GET", "/execution-parameters")[1])["MaxPayloadInMB"] == 1


def test_model_loaded_once_and_shared_by_the_workers(server):
    log = server.log()
    assert log.count("Booting worker") == 2
    assert log.count("loaded from") == 1 and "fast scorer" in log


def test_concurrent_burst_has_no_errors(server, model, rows):
    good = rows.head(1).to_csv(index=False).encode()
    batch = rows.head(100).to_json(orient="records").encode()
    assert len(batch) < 64 * 1024
    bad = b"not,a,row\n"
    cases = [(good, CSV, 200), (batch, {"Content-Type": "application/json"}, 200), (bad, CSV, 400),
             (good, {"Content-Type": "text/plain"}, 415)]

    def call(i):
        body, headers, status = cases[i % len(cases)]
        return server.request("POST", "/invocations", body, headers)[0], status

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(400)))
    assert [got for got, want in results] == [want for got, want in results]
    assert server.ping() == 200
    assert "[ERROR]" not in server.log() and "Traceback" not in server.log()


def test_ping_is_503_until_the_model_is_loaded(tmp_path, model_dir, rows):
    """metadata.json is a FIFO: loading blocks on it until the test writes it, so 'before' is observable."""
    base = serving_tree(tmp_path, model_dir)
    metadata = (base / "model" / "metadata.json").read_bytes()
    (base / "model" / "metadata.json").unlink()
    os.mkfifo(base / "model" / "metadata.json")
    server = Server(base)
    try:
        server.wait_for(503)
        status, body, _ = server.request("GET", "/ping")
        assert json.loads(body)["status"] == "loading"
        status, body, _ = server.request("POST", "/invocations", rows.head(1).to_csv(index=False).encode(), CSV)
        assert status == 503
        time.sleep(0.5)
        assert server.ping() == 503  # still loading: nothing healthy before the model is
        with open(base / "model" / "metadata.json", "wb") as fifo:
            fifo.write(metadata)
        server.wait_for(200)
        assert server.request("POST", "/invocations", rows.head(1).to_csv(index=False).encode(), CSV)[0] == 200
    finally:
        server.stop()


def test_corrupt_artifact_never_turns_healthy_and_the_log_says_why(tmp_path, model_dir):
    base = serving_tree(tmp_path, model_dir)
    joblib_file = base / "model" / "model.joblib"
    data = bytearray(joblib_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    joblib_file.write_bytes(bytes(data))
    server = Server(base)
    try:
        server.wait_for(503)
        deadline = time.monotonic() + 300  # the worker imports sklearn first: slow on a loaded machine
        while "model failed to load" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        for _ in range(10):
            status, body, _ = server.request("GET", "/ping")
            assert status == 503
            time.sleep(0.1)
        reply = json.loads(body)
        assert reply["status"] == "failed" and "does not match metadata" in reply["reason"]
        assert "SHA-256" in server.log() and "does not match metadata" in server.log()
    finally:
        assert server.stop() == 1


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="watches the connection through Linux's /proc")
def test_sigterm_drains_the_request_in_flight_then_exits(tmp_path, model_dir, rows):
    """No sleeps: each step waits for the state it needs, observed in /proc, within a bound."""
    base = serving_tree(tmp_path, model_dir)
    server = Server(base, SAGEMAKER_MODEL_SERVER_WORKERS="1")
    try:
        server.wait_for(200)
        body = rows.head(50).to_csv(index=False).encode()
        client = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                       + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100])
        wait_until(lambda: server.accepted(client), "the worker to accept the connection")
        # the worker now waits for the rest of the body: the request is in flight
        assert server.arbiter_listens()
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: not server.arbiter_listens(), "gunicorn to stop listening and signal its worker")
        assert server.process.poll() is None  # draining: the worker still waits for the body
        client.sendall(body[100:])
        response = http.client.HTTPResponse(client)
        response.begin()
        assert response.status == 200
        assert len(json.loads(response.read())["predictions"]) == 50
        client.close()
        server.process.wait(timeout=2 * GRACEFUL_TIMEOUT)
        assert server.process.returncode == 0
        log = server.log()
        assert "Handling signal: term" in log
        # the worker exited after its request, not when the graceful timeout ran out
        assert "SIGKILL" not in log and "[ERROR]" not in log, log
    finally:
        server.stop()


def test_invalid_configuration_exits_naming_the_variable(tmp_path, model_dir):
    server = Server(serving_tree(tmp_path, model_dir), SAGEMAKER_MODEL_SERVER_WORKERS="many")
    assert server.process.wait(timeout=30) == 2
    server.stop()
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in server.log()


def test_unknown_argument_is_refused(tmp_path):
    result = subprocess.run([sys.executable, str(SERVE), "train"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage: serve" in result.stderr
