"""`scripts/serve` as a Batch Transform container (SAGEMAKER_BATCH=true), over real HTTP on 127.0.0.1.

Mini-batches are cut from the default data's test rows as the platform cuts them (SplitType=Line:
whole lines, MultiRecord up to a payload size, SingleRecord one line each) and the answers are
assembled as AssembleWith=Line does (a newline after each response); the result must equal the
real-time scores line for line.
"""

from __future__ import annotations

import json

import pytest

from common.errors import ConfigError
from contract.serving import MIB, serving_config
from serve_process import Server, serving_tree
from serving import media
from serving.batch import placeholder

CSV_IN_CSV_OUT = {"Content-Type": "text/csv", "Accept": "text/csv"}


def start(tmp_path_factory, model_dir, name: str, **env: str):
    srv = Server(serving_tree(tmp_path_factory.mktemp(name), model_dir), SAGEMAKER_BATCH="true", **env)
    try:
        srv.wait_for(200)
    except BaseException:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module")
def batch_server(tmp_path_factory, model_dir):
    """The platform's environment for a job whose request names no payload: SAGEMAKER_BATCH only."""
    srv = start(tmp_path_factory, model_dir, "batch")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def placeholder_server(tmp_path_factory, model_dir):
    """A job that names MaxPayloadInMB=2 and BatchStrategy=MultiRecord, and chose placeholders for bad records."""
    srv = start(tmp_path_factory, model_dir, "batch-placeholder", SAGEMAKER_MAX_PAYLOAD_IN_MB="2",
                SAGEMAKER_BATCH_STRATEGY="MULTI_RECORD", SAGEMAKER_BATCH_BAD_RECORDS="placeholder")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def test_file(model, rows) -> bytes:
    """The default data's test rows as a Batch Transform input object: headerless, training column order."""
    return rows[list(model.schema.features)].to_csv(index=False, header=False).encode()


def mini_batches(data: bytes, max_bytes: int) -> list[bytes]:
    """SplitType=Line + MultiRecord: whole lines (each with its newline) packed up to max_bytes."""
    batches, current = [], b""
    for line in data.splitlines(keepends=True):
        if current and len(current) + len(line) > max_bytes:
            batches.append(current)
            current = b""
        current += line
    return batches + [current] if current else batches


def transform(srv: Server, data: bytes, max_bytes: int, headers=CSV_IN_CSV_OUT) -> list[str]:
    """What a job writes to <name>.out with AssembleWith=Line: each response, then a newline."""
    out = b""
    for body in mini_batches(data, max_bytes):
        status, answer, _ = srv.request("POST", "/invocations", body, headers)
        assert status == 200, answer
        out += answer + b"\n"
    return out.decode().split("\n")[:-1]


def real_time_lines(handler, data: bytes) -> list[str]:
    """The real-time endpoint's answer for the same rows (the handler `scripts/serve` runs without SAGEMAKER_BATCH)."""
    response = handler.invocations("text/csv", "text/csv", data)
    assert response.status == 200, response.body
    return response.body.decode().splitlines()


def as_scores(lines: list[str]) -> list[tuple[float, str]]:
    return [(float(p), label) for p, label in (line.split(",") for line in lines)]


def test_execution_parameters_suit_the_platform_and_the_sdks_local_mode(batch_server):
    status, body, content_type = batch_server.request("GET", "/execution-parameters")
    assert (status, content_type) == (200, "application/json")
    params = json.loads(body)
    # the server's real capacity: SAGEMAKER_MODEL_SERVER_WORKERS=2 (serve_process), within concurrency x payload <= 100
    assert params == {"MaxConcurrentTransforms": 2, "MaxPayloadInMB": 50}
    # local mode (sagemaker.local.entities._LocalTransformJob) copies BatchStrategy verbatim and fails the job
    # unless it is "SingleRecord" or "MultiRecord"; the platform documents MULTI_RECORD. Absent suits both.
    assert "BatchStrategy" not in params


def test_a_job_naming_its_payload_is_answered_with_it(placeholder_server):
    params = json.loads(placeholder_server.request("GET", "/execution-parameters")[1])
    assert params == {"MaxConcurrentTransforms": 2, "MaxPayloadInMB": 2}


@pytest.mark.parametrize("max_bytes", [6 * MIB, 64 * 1024, 5000])
def test_multi_record_output_equals_real_time_line_for_line(batch_server, handler, test_file, max_bytes):
    got = transform(batch_server, test_file, max_bytes)
    expected = real_time_lines(handler, test_file)
    assert len(got) == len(expected) == test_file.count(b"\n")
    assert as_scores(got) == as_scores(expected)


def test_single_record_output_equals_real_time(batch_server, handler, test_file):
    lines = test_file.splitlines(keepends=True)[:25]
    got = transform(batch_server, b"".join(lines), 1)  # SingleRecord: one line per request
    assert as_scores(got) == as_scores(real_time_lines(handler, b"".join(lines)))


def test_matches_the_models_own_scores(batch_server, model, rows, test_file):
    got = as_scores(transform(batch_server, test_file, 6 * MIB))
    proba = model.predict_proba(rows)
    assert [label for _, label in got] == model.label(proba).tolist()
    assert [p for p, _ in got] == pytest.approx(proba.tolist(), abs=1e-12)


def test_a_body_over_six_mib_is_accepted_up_to_the_jobs_payload(batch_server, placeholder_server, test_file):
    body = test_file * (7 * MIB // len(test_file) + 1)  # over the real-time default of 6 MiB, under 50
    status, answer, _ = batch_server.request("POST", "/invocations", body, CSV_IN_CSV_OUT)
    assert status == 200, answer[:300]
    assert answer.count(b"\n") + 1 == body.count(b"\n")
    status, answer, _ = placeholder_server.request("POST", "/invocations", body, CSV_IN_CSV_OUT)
    assert status == 413 and b"SAGEMAKER_MAX_PAYLOAD_IN_MB" in answer  # this job named 2 MB


def with_bad_lines(test_file: bytes) -> tuple[bytes, dict[int, str]]:
    lines = test_file.split(b"\n")[:200]
    fields = lines[9].split(b",")
    fields[0] = b"lots"  # funded_amnt, a number
    lines[9] = b",".join(fields)
    lines[120] = b""  # a blank line is a record too
    return b"\n".join(lines) + b"\n", {10: "line 10, column 'funded_amnt': 'lots' is not a number", 121: "line 121"}


def test_a_bad_record_fails_the_request_naming_its_line_by_default(batch_server, test_file):
    body, bad = with_bad_lines(test_file)
    status, answer, _ = batch_server.request("POST", "/invocations", body, CSV_IN_CSV_OUT)
    assert status == 400
    message = json.loads(answer)["error"]
    assert message.startswith(bad[10]) and "SAGEMAKER_BATCH_BAD_RECORDS=placeholder" in message


def test_placeholder_mode_keeps_every_other_line_aligned(placeholder_server, handler, test_file):
    body, bad = with_bad_lines(test_file)
    got = transform(placeholder_server, body, 64 * 1024)
    good = [line for i, line in enumerate(body.split(b"\n")[:-1], 1) if i not in bad]
    expected = iter(as_scores(real_time_lines(handler, b"\n".join(good) + b"\n")))
    assert len(got) == body.count(b"\n")
    for number, line in enumerate(got, 1):
        if number in bad:  # an empty probability, the error in the label's column: the same field count
            assert line.startswith(',"line ') and line == placeholder(handler.output, media.CSV, bad_reasons(placeholder_server, body)[number])
        else:
            assert as_scores([line]) == [next(expected)]


def test_placeholder_records_in_json_say_why(placeholder_server, test_file):
    body, bad = with_bad_lines(test_file)
    status, answer, _ = placeholder_server.request("POST", "/invocations", body,
                                                   {"Content-Type": "text/csv", "Accept": "application/json"})
    assert status == 200, answer
    predictions = json.loads(answer)["predictions"]
    assert len(predictions) == body.count(b"\n")
    assert predictions[9] == {"probability": None, "label": None, "error": bad[10]}
    assert predictions[120]["error"].startswith("line 121: empty line")
    assert all(isinstance(p["probability"], float) for i, p in enumerate(predictions) if i + 1 not in bad)


def test_a_header_line_is_refused_naming_what_to_do(batch_server, placeholder_server, model, rows, test_file):
    with_header = rows[list(model.schema.features)].head(50).to_csv(index=False).encode()
    for srv in (batch_server, placeholder_server):  # a header is never a placeholder: every line would shift
        status, answer, _ = srv.request("POST", "/invocations", with_header, CSV_IN_CSV_OUT)
        assert status == 400
        message = json.loads(answer)["error"]
        assert "line 1 is a header row" in message and "remove the header line" in message
    headerless = test_file.splitlines(keepends=True)[:50]
    assert len(transform(batch_server, b"".join(headerless), 6 * MIB)) == 50


def test_real_time_serving_is_unchanged_without_sagemaker_batch(server, model, rows):
    """The same header the batch server refuses is detected and skipped by the real-time server."""
    body = rows[list(model.schema.features)].head(30).to_csv(index=False).encode()
    status, answer, _ = server.request("POST", "/invocations", body, CSV_IN_CSV_OUT)
    assert status == 200 and answer.endswith(b"\n") and answer.count(b"\n") == 30


def test_batch_config_from_the_platforms_environment():
    base = {"SAGEMAKER_MODEL_SERVER_WORKERS": "4"}
    config = serving_config({**base, "SAGEMAKER_BATCH": "True"})  # local mode's spelling
    assert (config.batch, config.payload_mb, config.max_concurrent_transforms, config.timeout) == (True, 25, 4, 600)
    assert config.bad_records == "fail"
    from serving.server import gunicorn_options

    assert gunicorn_options(config, 3)["timeout"] == 600  # the sync worker is killed only past the job's timeout
    config = serving_config({**base, "SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
                             "SAGEMAKER_MODEL_SERVER_TIMEOUT": "3600", "SAGEMAKER_BATCH_BAD_RECORDS": "Placeholder"})
    assert (config.payload_mb, config.max_concurrent_transforms, config.timeout) == (100, 1, 3600)
    assert config.bad_records == "placeholder"
    assert serving_config(base).timeout == 60 and not serving_config(base).batch
    for name, value in [("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0"), ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "101"),
                        ("SAGEMAKER_BATCH_BAD_RECORDS", "skip"), ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "3601")]:
        with pytest.raises(ConfigError, match=name):
            serving_config({**base, "SAGEMAKER_BATCH": "true", name: value})
    with pytest.raises(ConfigError, match="SAGEMAKER_BATCH"):
        serving_config({"SAGEMAKER_BATCH": "maybe"})


@pytest.mark.parametrize("slice_bytes", [20_000, 4 * MIB])
def test_line_numbers_and_placeholders_across_slices(model, handler, test_file, slice_bytes):
    """In process, with slices small enough that bad lines fall in different slices and groups."""
    from serving.batch import BatchOptions
    from serving.handler import Handler

    lines = (test_file * 3).split(b"\n")[:-1]
    bad = {1: b"", 700: b"1,2", len(lines): b'"unterminated'}  # 1-based line numbers
    for number, text in bad.items():
        lines[number - 1] = text
    body = b"\n".join(lines) + b"\n"
    options = dict(max_concurrent_transforms=1, slice_bytes=slice_bytes)
    fail = Handler(model, 64 * MIB, batch=BatchOptions(True, "fail", **options))
    message = json.loads(fail.invocations("text/csv", "text/csv", body).body)["error"]
    assert message.startswith("line 1: empty line")
    only_middle = body.split(b"\n", 1)[1]  # line 700 becomes line 699
    message = json.loads(fail.invocations("text/csv", "text/csv", only_middle).body)["error"]
    assert message.startswith("line 699: 2 fields, expected")

    placeholder = Handler(model, 64 * MIB, batch=BatchOptions(True, "placeholder", **options))
    response = placeholder.invocations("text/csv", "text/csv", body)
    got = response.body.decode().split("\n")
    assert response.status == 200 and len(got) == len(lines)
    good = b"\n".join(line for number, line in enumerate(lines, 1) if number not in bad)
    expected = iter(real_time_lines(handler.__class__(model, 64 * MIB), good))
    for number, line in enumerate(got, 1):
        if number in bad:
            assert line.startswith(f',"line {number}: '), line
        else:
            assert line == next(expected), number


def bad_reasons(srv, body: bytes) -> dict[int, str]:
    """Line number -> the error the JSON answer gives for it (the CSV placeholder carries the same text)."""
    status, answer, _ = srv.request("POST", "/invocations", body, {"Content-Type": "text/csv", "Accept": "application/json"})
    assert status == 200
    return {i: p["error"] for i, p in enumerate(json.loads(answer)["predictions"], 1) if p.get("error")}


def test_json_lines_in_and_out_one_result_per_record(batch_server, placeholder_server, handler, model, rows):
    """application/jsonlines for the classifier: records by name or position, one line each, in order."""
    features = list(model.schema.features)
    sample = rows[features].head(50)
    records = [json.dumps(r) for r in json.loads(sample.to_json(orient="records"))]
    records[3] = json.dumps(json.loads(sample.iloc[[3]].to_json(orient="values"))[0])  # a list in training order
    body = ("\n".join(records) + "\n").encode()
    status, answer, _ = batch_server.request("POST", "/invocations", body,
                                             {"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"})
    assert status == 200 and not answer.endswith(b"\n")
    got = [json.loads(line) for line in answer.split(b"\n")]
    expected = json.loads(handler.invocations("text/csv", "application/json",
                                              sample.to_csv(index=False, header=False).encode()).body)["predictions"]
    assert got == expected
    bad = records[:]
    bad[7] = '{"' + features[0] + '": [1, 2'  # not JSON
    body = ("\n".join(bad) + "\n").encode()
    status, answer, _ = batch_server.request("POST", "/invocations", body,
                                             {"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"})
    assert status == 400 and json.loads(answer)["error"].startswith("line 8: ")
    status, answer, _ = placeholder_server.request("POST", "/invocations", body,
                                                   {"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"})
    got = [json.loads(line) for line in answer.split(b"\n")]
    assert status == 200 and len(got) == 50
    assert list(got[7]) == ["error"] and got[7]["error"].startswith("line 8: ")
    assert got[:7] + got[8:] == expected[:7] + expected[8:]
