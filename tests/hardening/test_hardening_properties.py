"""Property-based tests: arbitrary input to the request decoders, the hyperparameter decoder and the
config readers yields a result or the project's clear error (RequestError 4xx, ConfigError), never
anything else: no 500, no KeyError or TypeError escaping to become an "internal error"."""

import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import ConfigError
from contract import hyperparameters as hp
from contract import jobs, layout
from contract.serving import serving_config
from serving.decode import Decoder
from serving.errors import RequestError
from serving.handler import Handler

pytestmark = pytest.mark.hardening
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def handler(model_dir):
    from tasks.classifier import artifact

    return Handler(artifact.load(model_dir), max_payload_bytes=1 << 20)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
mime_params = st.lists(st.tuples(st.sampled_from(["charset", "header", "q", "x", ""]),
                                 st.sampled_from(["utf-8", "latin-1", "utf-16", "base64", "idna", "present",
                                                  "absent", "maybe", "", "\"UTF-8\"", "bogus", "rot13"])),
                       max_size=3)


def content_type(kind, params):
    return kind + "".join(f"; {k}={v}" for k, v in params)


def assert_clean(response):
    assert response.status < 500, response.body
    if response.status != 200:
        assert 400 <= response.status < 500
        assert json.loads(response.body)["error"]
        assert len(response.body) < 2048


@SETTINGS
@given(body=st.binary(max_size=400), kind=st.sampled_from([
    "text/csv", "application/json", "application/x-parquet", "application/vnd.apache.arrow.stream",
    "image/png", "", "TEXT/CSV", "application/vnd.apache.parquet"]), params=mime_params,
    accept=st.sampled_from([None, "", "*/*", "text/csv", "application/json;q=0", "image/*", "text/*;q=x", ","]))
def test_any_bytes_with_any_content_type(handler, body, kind, params, accept):
    assert_clean(handler.invocations(content_type(kind, params), accept, body))


def csv_field():
    return st.one_of(st.text(max_size=12), st.floats().map(repr), st.integers().map(str),
                     st.sampled_from(["NA", "", " ", "nan", "inf", "-inf", "1e999", "\"", "a,b", "1_000"]))


@SETTINGS
@given(data=st.data(), header=st.sampled_from([None, "features", "shuffled", "partial"]),
       params=mime_params, rows=st.integers(0, 6))
def test_structured_csv(handler, data, header, params, rows):
    features = list(handler.model.schema.features)
    width = data.draw(st.sampled_from([len(features), len(features) - 1, len(features) + 1, 1]))
    lines = [[data.draw(csv_field()) for _ in range(width)] for _ in range(rows)]
    if header == "features":
        lines.insert(0, features)
    elif header == "shuffled":
        lines.insert(0, data.draw(st.permutations(features + [handler.model.schema.target])))
    elif header == "partial":
        lines.insert(0, features[1:])
    buffer = io.StringIO()
    import csv
    csv.writer(buffer).writerows(lines)
    body = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    assert_clean(handler.invocations(content_type("text/csv", params), None, body))


@SETTINGS
@given(data=st.data(), shape=st.sampled_from(["records", "lists", "instances", "other"]), rows=st.integers(0, 5))
def test_structured_json(handler, data, shape, rows):
    features = list(handler.model.schema.features)
    if shape == "records":
        keys = st.sampled_from(features + ["extra"])
        doc = [data.draw(st.dictionaries(keys, json_values, max_size=len(features) + 1)) for _ in range(rows)]
        doc += [{f: data.draw(json_values) for f in features} for _ in range(rows)]
    elif shape == "lists":
        doc = [data.draw(st.lists(json_values, min_size=len(features) - 1, max_size=len(features) + 1))
               for _ in range(rows)]
    elif shape == "instances":
        doc = {"instances": data.draw(json_values)}
    else:
        doc = data.draw(json_values)
    body = json.dumps(doc).encode()
    assert_clean(handler.invocations("application/json", "text/csv", body))


arrow_columns = st.sampled_from([
    pa.array([1, None, 3]), pa.array([1.5, float("nan"), None]), pa.array(["a", None, "3"]),
    pa.array([True, False, None]), pa.array([None, None, None]), pa.array([[1], [], None]),
    pa.array(["x", "y", "x"]).dictionary_encode(), pa.array([b"\x00", b"", None]),
    pa.array([1, 2, 3], pa.int8()).dictionary_encode(), pa.array([{"a": 1}, None, {"a": 2}]),
    pa.array([10**18, -1, 0], pa.int64()), pa.array(["1e999", "-inf", " 2 "]),
])


@SETTINGS
@given(data=st.data(), fmt=st.sampled_from(["parquet", "arrow"]))
def test_structured_parquet_and_arrow(handler, data, fmt):
    features = list(handler.model.schema.features)
    names = data.draw(st.lists(st.sampled_from(features + ["extra", features[0]]), min_size=1,
                               max_size=len(features) + 2))
    if data.draw(st.booleans()):
        names = features + names[:2]
    table = pa.table({f"c{i}": data.draw(arrow_columns) for i in range(len(names))}).rename_columns(names)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
        kind = "application/x-parquet"
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        kind = "application/vnd.apache.arrow.stream"
    body = sink.getvalue()
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(body)))
        body = body[:cut] + data.draw(st.binary(max_size=8))
    assert_clean(handler.invocations(kind, None, body))


@SETTINGS
@given(body=st.binary(max_size=300), kind=st.sampled_from(["csv", "json", "parquet", "arrow"]),
       charset=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii"]),
       header=st.sampled_from([None, "present", "absent"]))
def test_decoder_raises_only_request_errors(handler, body, kind, charset, header):
    try:
        Decoder(handler.model.schema).decode(kind, body, charset, {"header": header} if header else {})
    except RequestError as exc:
        assert 400 <= exc.status < 500


SPEC = {
    "n": hp.Param(int, 3, minimum=1), "rate": hp.Param(float, 0.1, maximum=1.0), "flag": hp.Param(bool, False),
    "name": hp.Param(str, "a", choices=("a", "b")), "cols": hp.Param(list, []), "need": hp.Param(str),
}
raw_values = st.one_of(json_values, json_values.map(json.dumps), st.text(max_size=30))


@SETTINGS
@given(raw=st.dictionaries(st.sampled_from(list(SPEC) + ["other", "sagemaker_x", "_t", "n-x"]) | st.text(max_size=6),
                           raw_values, max_size=8),
       kind=st.sampled_from(["hyperparameter", "argument"]))
def test_hyperparameter_decoder(raw, kind):
    try:
        values = hp.parse(raw, SPEC, kind=kind)
    except ConfigError as exc:
        assert kind in str(exc) and len(str(exc)) < 2000
        return
    assert isinstance(values["n"], int) and not isinstance(values["n"], bool) and values["n"] >= 1
    assert isinstance(values["rate"], float) and values["rate"] <= 1.0
    assert isinstance(values["flag"], bool) and values["name"] in ("a", "b")
    assert all(isinstance(c, str) for c in values["cols"]) and isinstance(values["need"], str)


@SETTINGS
@given(argv=st.lists(st.text(max_size=10) | st.sampled_from(["--a", "--b=1", "--", "-x", "--c"]), max_size=6))
def test_command_line_decoder(argv):
    try:
        pairs = hp.parse_cli(argv)
    except ConfigError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items())


config_documents = st.one_of(json_values, st.binary(max_size=60).map(lambda b: b),
                             st.fixed_dictionaries({}, optional={
                                 "ProcessingInputs": json_values, "ProcessingOutputConfig": json_values,
                                 "hosts": json_values, "current_host": json_values, "LocalPath": json_values,
                                 "train": json_values}))


def write_config(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document if isinstance(document, bytes) else json.dumps(document).encode())


@SETTINGS
@given(documents=st.lists(config_documents, min_size=7, max_size=7),
       env=st.dictionaries(st.sampled_from(["SM_HOSTS", "SM_CURRENT_HOST", "SM_CHANNELS", "SM_HPS"]),
                           json_values.map(json.dumps) | st.text(max_size=10), max_size=4))
def test_config_readers(tmp_path_factory, monkeypatch, documents, env):
    base = tmp_path_factory.mktemp("ml")
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
    for name in ("SM_HOSTS", "SM_CURRENT_HOST", "SM_CHANNELS", "SM_HPS", "SM_CHECKPOINT_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if "\x00" not in value:
            monkeypatch.setenv(name, value)
    paths = [base / "config/processingjobconfig.json", base / "config/resourceconfig.json",
             base / "input/config/inputdataconfig.json", base / "input/config/resourceconfig.json",
             base / "input/config/hyperparameters.json", base / "input/config/checkpointconfig.json",
             base / "input/config/other.json"]
    for path, document in zip(paths, documents):
        write_config(path, document)
    for read in (lambda: jobs.processing_job([]), lambda: jobs.training_job([]),
                 lambda: layout.read_json_file(paths[-1]), lambda: jobs.processing_job([]).hosts.is_leader,
                 lambda: jobs.training_job([]).hosts.shard([1, 2, 3])):
        try:
            read()
        except ConfigError:
            pass


@SETTINGS
@given(env=st.dictionaries(st.sampled_from(["SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_MODEL_SERVER_WORKERS",
                                            "SAGEMAKER_MODEL_SERVER_TIMEOUT", "SAGEMAKER_MAX_PAYLOAD_IN_MB",
                                            "SERVING_HOST"]),
                           st.text(max_size=12) | st.sampled_from(["nan", "inf", "1e400", "0x10", "٣", "-1", "1_0"]),
                           max_size=5))
def test_serving_config(env):
    try:
        config = serving_config(env)
    except ConfigError:
        return
    assert 1 <= config.port <= 65535 and config.workers >= 1 and config.max_payload_bytes > 0
