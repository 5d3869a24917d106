"""The inference contract without HTTP: Handler.invocations(content type, accept, body) -> Response."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving import decode
from serving.handler import Handler


def predictions(response) -> tuple[np.ndarray, list[str]]:
    assert response.status == 200, response.body
    if response.content_type == "text/csv":
        lines = response.body.decode().splitlines()
        return np.array([float(line.split(",")[0]) for line in lines]), [line.split(",")[1] for line in lines]
    records = json.loads(response.body)["predictions"]
    return np.array([r["probability"] for r in records]), [r["label"] for r in records]


def expected(model, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    proba = model.predict_proba(frame)
    return proba, list(model.label(proba))


def assert_scores(response, model, frame) -> None:
    proba, labels = predictions(response)
    want_proba, want_labels = expected(model, frame)
    np.testing.assert_allclose(proba, want_proba, rtol=0, atol=1e-12)
    assert labels == want_labels


def features(model, frame):
    return frame[list(model.schema.features)]


def error_of(response, status: int) -> str:
    assert response.status == status, response
    assert response.content_type == "application/json"
    return json.loads(response.body)["error"]


# -- content types ---------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "Text/CSV; Charset=\"UTF-8\""])
def test_csv_with_header_any_column_order_and_extra_columns(handler, model, rows, content_type):
    frame = rows.head(5)[list(reversed(rows.columns))]  # target and id columns included, order reversed
    assert_scores(handler.invocations(content_type, None, frame.to_csv(index=False).encode()), model, frame)


@pytest.mark.parametrize("n", [1, 400])
def test_headerless_csv_is_the_training_files_own_column_order(handler, model, n):
    """A line of the original CSV minus id and target scores as is: SageMaker's headerless convention."""
    from tests.conftest import DATA

    lines = DATA.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("rownames", "Class")]
    body = "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines[1 : n + 1]).encode()
    assert [header[i] for i in keep] == list(model.schema.features)
    frame = pd.read_csv(DATA).head(n)
    assert_scores(handler.invocations("text/csv", None, body), model, frame)


@pytest.mark.parametrize("n", [1, 400])  # 400 rows take the pyarrow path, 1 the stdlib one
def test_csv_without_header_in_schema_order(handler, model, rows, n):
    frame = features(model, rows).head(n)
    body = frame.to_csv(index=False, header=False).encode()
    assert (len(body) > decode.SMALL_CSV_BYTES) == (n > 1)
    assert_scores(handler.invocations("text/csv", "application/json", body), model, frame)


def test_csv_in_another_charset_with_bom_and_header_param(handler, model, rows):
    frame = rows.head(3)
    body = frame.to_csv(index=False).encode("utf-16")  # with its BOM
    assert_scores(handler.invocations("text/csv; charset=utf-16; header=present", None, body), model, frame)
    utf8_bom = b"\xef\xbb\xbf" + frame.to_csv(index=False).encode()
    assert_scores(handler.invocations("text/csv", None, utf8_bom), model, frame)


@pytest.mark.parametrize("wrap", [lambda records: records, lambda records: {"instances": records}])
def test_json_records_and_instances(handler, model, rows, wrap):
    frame = rows.head(4)
    body = json.dumps(wrap(json.loads(frame.to_json(orient="records")))).encode()
    assert_scores(handler.invocations("application/json", "application/json", body), model, frame)


def test_json_instances_as_lists_in_schema_order(handler, model, rows):
    frame = features(model, rows).head(3)
    body = json.dumps({"instances": json.loads(frame.to_json(orient="values"))}).encode()
    assert_scores(handler.invocations("application/json; charset=utf-8", None, body), model, frame)


def test_json_numbers_sent_as_text_are_served(handler, model, rows):
    frame = features(model, rows).head(2)
    records = json.loads(frame.to_json(orient="records"))
    for record in records:
        record[model.schema.numeric[0]] = f" {record[model.schema.numeric[0]]} "
    assert isinstance(records[0][model.schema.numeric[0]], str)
    assert_scores(handler.invocations("application/json", None, json.dumps(records).encode()), model, frame)


@pytest.mark.parametrize("n", [6, 400])  # CSV: 6 rows take the stdlib path, 400 the pyarrow one
def test_categories_sent_as_numbers_score_like_their_text(integer_category_model, n):
    """A categorical column whose training values were integers ('sub_grade', 11 for A1): JSON numbers
    and unquoted CSV numbers score exactly as their text ("11") does, not as an unseen category."""
    model, test = integer_category_model
    handler = Handler(model)
    frame = features(model, test).head(n)
    as_text = frame.astype({"sub_grade": str})
    assert frame["sub_grade"].dtype == np.int64 and len(set(frame["sub_grade"])) > 1
    np.testing.assert_array_equal(model.predict_proba(as_text), model.predict_proba(frame))
    assert not np.allclose(model.predict_proba(frame.assign(sub_grade="unseen")), model.predict_proba(frame)), \
        "'sub_grade' should change the scores, or this test could not tell a number read as unseen"

    records = json.loads(frame.to_json(orient="records"))
    assert {type(record["sub_grade"]) for record in records} == {int}
    assert_scores(handler.invocations("application/json", None, json.dumps(records).encode()), model, as_text)
    lists = json.loads(frame.to_json(orient="values"))
    assert_scores(handler.invocations("application/json", None, json.dumps(lists).encode()), model, as_text)

    for header in (True, False):
        body = frame.to_csv(index=False, header=header).encode()
        assert b'"' not in body  # bare numbers in the sub_grade field
        assert (len(body) > decode.SMALL_CSV_BYTES) == (n > 6)
        assert_scores(handler.invocations("text/csv", None, body), model, as_text)


def test_arrow_stream(handler, model, rows):
    frame = rows.head(300)
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=100)  # several record batches
    assert_scores(handler.invocations("application/vnd.apache.arrow.stream", None, sink.getvalue()), model, frame)


def test_parquet_with_dictionary_encoded_categories(handler, model, rows):
    frame = rows.head(300).copy()
    for column in model.schema.categorical:
        frame[column] = frame[column].astype("category")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    assert_scores(handler.invocations("application/x-parquet", "text/csv", sink.getvalue()), model, rows.head(300))


def test_integers_beyond_float_precision_score_as_the_same_number_in_csv(handler, model, rows):
    """An int64 past 2**53 has no exact float64; it scores as the nearest float, as its CSV text does."""
    frame = rows.head(3).copy()
    frame["annual_inc"] = [10**18, 2**53 + 1, 50_000]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    from_parquet = handler.invocations("application/x-parquet", None, sink.getvalue())
    from_csv = handler.invocations("text/csv", None, frame.to_csv(index=False).encode())
    assert from_parquet.status == 200, from_parquet.body
    assert from_parquet.body == from_csv.body


# -- accept ------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept,content_type", [
    (None, "application/json"), ("*/*", "application/json"), ("application/json", "application/json"),
    ("text/csv", "text/csv"), ("text/csv; charset=utf-8", "text/csv"),
    ("application/xml, text/csv;q=0.9, application/json;q=0.5", "text/csv"), ("text/*", "text/csv"),
])
def test_accept(handler, model, rows, accept, content_type):
    frame = rows.head(3)
    response = handler.invocations("text/csv", accept, frame.to_csv(index=False).encode())
    assert response.content_type == content_type
    assert_scores(response, model, frame)


@pytest.mark.parametrize("n", [7, 300])  # below and above the size where pyarrow formats the answer
def test_both_output_formats_give_repr_exact_probabilities(handler, model, rows, n):
    body = rows.head(n).to_csv(index=False).encode()
    proba = model.predict_proba(rows.head(n))
    lines = handler.invocations("text/csv", "text/csv", body).body.decode().splitlines()
    assert len(lines) == n and all(line.count(",") == 1 for line in lines)
    assert [float(line.split(",")[0]) for line in lines] == proba.tolist()  # exact round trip
    records = json.loads(handler.invocations("text/csv", "application/json", body).body)["predictions"]
    assert [r["probability"] for r in records] == proba.tolist()
    assert [r["label"] for r in records] == [line.split(",")[1] for line in lines] == list(model.label(proba))


def test_chunks_with_different_category_dictionaries_are_unified():
    chunks = pa.chunked_array([pa.array(["a", None]).dictionary_encode(), pa.array(["b", "a"]).dictionary_encode()])
    assert decode._whole(chunks).to_pylist() == ["a", None, "b", "a"]


# -- values the model handles: served, not errors ------------------------------------------------

def test_missing_values_and_unseen_categories_are_served(handler, model, rows):
    frame = features(model, rows).head(6).astype(object)
    numeric, categorical = model.schema.numeric, model.schema.categorical
    frame.loc[0, list(numeric)] = None
    frame.loc[1, list(categorical)] = None
    frame.loc[2, categorical[0]] = "never-seen-in-training"
    frame.loc[3, :] = None
    body = frame.to_csv(index=False).encode()
    assert "NA" not in body.decode()
    text = body.decode().replace(",,", ",NA,", 1)  # an NA token reads as missing too
    assert_scores(handler.invocations("text/csv", None, text.encode()), model, frame)
    records = json.loads(frame.to_json(orient="records"))
    assert_scores(handler.invocations("application/json", None, json.dumps(records).encode()), model, frame)


def test_fast_scorer_matches_the_pipeline_on_the_whole_test_split(handler, model, rows):
    assert handler.scorer.name == "fast"
    frame = features(model, rows).astype(object)
    rng = np.random.default_rng(0)
    frame = frame.mask(rng.random(frame.shape) < 0.1)  # 10% missing everywhere
    frame.loc[rng.random(len(frame)) < 0.1, model.schema.categorical[1]] = "unseen"
    assert_scores(handler.invocations("text/csv", None, frame.to_csv(index=False).encode()), model, frame)


def _messy(model, rows, n: int) -> pd.DataFrame:
    """n client rows with 10% missing values everywhere and some unseen categories."""
    frame = features(model, rows).head(n).astype(object)
    rng = np.random.default_rng(n)
    frame = frame.mask(rng.random(frame.shape) < 0.1)
    for column in model.schema.categorical[:1]:
        frame.loc[rng.random(len(frame)) < 0.1, column] = "unseen"
    return frame


def _bodies(frame: pd.DataFrame) -> dict[str, bytes]:
    """The same rows as each reader's input: CSV small (stdlib path) and large (pyarrow path), JSON, Parquet."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.astype({c: "string" for c in frame.columns
                                                      if frame[c].map(type).eq(str).any()}), preserve_index=False), sink)
    csv = frame.to_csv(index=False).encode()
    return {"csv": csv, "json": frame.to_json(orient="records").encode(), "parquet": sink.getvalue()}


@pytest.mark.parametrize("n", [1, 7, 600])
def test_decoder_frame_is_what_prepare_returns_and_the_pipeline_scores_it(handler, model, rows, n):
    """Decoder.frame: the rows the artifact's pipeline reads, as Model.prepare would leave them (so prepare
    can be skipped), and scored by the pipeline as the client's own rows are."""
    frame = _messy(model, rows, n)
    want, _ = expected(model, frame)
    for kind, body in _bodies(frame).items():
        if kind == "csv":
            assert (len(body) > decode.SMALL_CSV_BYTES) == (n == 600)  # both CSV readers are covered
        batch = handler.decoder.decode(kind, body)
        built = handler.decoder.frame(batch)
        assert list(built.columns) == list(model.schema.features)
        assert built.dtypes.astype(str).tolist() == [
            "float64" if c in model.schema.numeric else "object" for c in model.schema.features]
        pd.testing.assert_frame_equal(model.prepare(built), built)
        np.testing.assert_allclose(model.pipeline.predict_proba(built)[:, 1], want, rtol=0, atol=1e-12, err_msg=kind)


def test_decoder_frame_of_a_one_sided_model(one_sided_model):
    model, test = one_sided_model
    decoder = decode.Decoder(model.schema)
    frame = features(model, test).head(50)
    built = decoder.frame(decoder.decode("csv", frame.to_csv(index=False).encode()))
    pd.testing.assert_frame_equal(model.prepare(built), built)
    np.testing.assert_allclose(model.pipeline.predict_proba(built)[:, 1], model.predict_proba(frame), rtol=0, atol=1e-12)


def test_decoder_frame_keeps_text_null_and_the_none_of_every_category_form():
    """Dictionary arrays (with nulls in the dictionary and in the indices), plain Arrow text and lists."""
    words = pa.DictionaryArray.from_arrays(pa.array([0, None, 1, 2, 0], pa.int32()), pa.array(["a", None, "c"]))
    assert decode._objects(words).tolist() == ["a", None, None, "c", "a"]
    assert decode._objects(pa.array(["x", None])).tolist() == ["x", None]
    column = decode._objects(["x", None, "y"])
    assert column.dtype == object and column.tolist() == ["x", None, "y"]


@pytest.mark.parametrize("padded_number", ["2.5", " 2.5 "])
def test_stdlib_and_pyarrow_csv_paths_agree_on_awkward_fields(model, monkeypatch, padded_number):
    decoder = decode.Decoder(model.schema)
    stdlib_calls = []
    original = decode.Decoder._csv_stdlib
    monkeypatch.setattr(decode.Decoder, "_csv_stdlib", lambda self, *a: stdlib_calls.append(1) or original(self, *a))
    num, cat = model.schema.numeric, model.schema.categorical
    record = {c: "1" for c in num} | {c: "A" for c in cat}
    record |= {num[0]: padded_number, num[1]: "NA", num[2]: '"7"', num[3]: "", num[4]: "-1e3",
               cat[0]: " padded ", cat[1]: "", cat[2]: '"quoted, with comma"', cat[3]: "null"}
    header, line = ",".join(record) + "\n", ",".join(record.values()) + "\n"
    small = decoder.decode("csv", (header + line).encode())
    assert len(stdlib_calls) == 1
    large = decoder.decode("csv", (header + line * 200).encode())
    assert len(stdlib_calls) == 1, "pyarrow should have read the large body"
    np.testing.assert_array_equal(small.numeric[0, :5], [2.5, np.nan, 7, np.nan, -1000])
    np.testing.assert_array_equal(large.numeric, np.repeat(small.numeric, 200, axis=0))
    categories = [list(c) if isinstance(c, list) else c.to_pylist() for c in (small.categorical, large.categorical)[0]]
    assert [column[0] for column in categories][:4] == ["padded", None, "quoted, with comma", None]
    large_categories = [c.to_pylist() if isinstance(c, pa.Array) else c for c in large.categorical]
    assert all(column == [first[0]] * 200 for column, first in zip(large_categories, categories))


# -- client errors: 4xx naming what to fix --------------------------------------------------------

@pytest.mark.parametrize("n", [3, 400])
def test_non_number_names_row_and_column(handler, model, rows, n):
    frame = rows.head(n).astype(object)
    frame.loc[n - 2, "int_rate"] = "twelve"
    message = error_of(handler.invocations("text/csv", None, frame.to_csv(index=False).encode()), 400)
    assert f"row {n - 1} (line {n})" in message and "'int_rate'" in message and "'twelve'" in message


@pytest.mark.parametrize("n", [3, 400])
def test_wrong_field_count_names_the_row(handler, model, rows, n):
    lines = features(model, rows).head(n).to_csv(index=False, header=False).splitlines()
    lines[n - 1] += ",extra"
    message = error_of(handler.invocations("text/csv", None, "\n".join(lines).encode()), 400)
    assert f"row {n}" in message and "23 fields, expected 22" in message


def test_malformed_csv_names_the_line(handler, rows):
    body = rows.head(2).to_csv(index=False) + '1,"unterminated\n'
    assert "malformed CSV at line" in error_of(handler.invocations("text/csv", None, body.encode()), 400)


def test_header_missing_a_feature(handler, model, rows):
    body = rows.head(2).drop(columns=["int_rate"]).to_csv(index=False).encode()
    assert "lacks column(s) ['int_rate']" in error_of(handler.invocations("text/csv", None, body), 400)


@pytest.mark.parametrize("kind", ["csv", "arrow", "parquet"])
def test_missing_or_repeated_feature_columns_are_named(handler, rows, kind):
    content_type = {"csv": "text/csv", "arrow": "application/vnd.apache.arrow.stream",
                    "parquet": "application/x-parquet"}[kind]
    source = "CSV header" if kind == "csv" else f"{kind} body"

    def body(table: pa.Table) -> bytes:
        sink = io.BytesIO()
        if kind == "csv":
            return table.to_pandas().to_csv(index=False).encode()
        if kind == "arrow":
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
        else:
            pq.write_table(table, sink)
        return sink.getvalue()

    table = pa.Table.from_pandas(rows.head(2), preserve_index=False)
    without = table.drop_columns(["int_rate"]).append_column("other", table.column("int_rate"))
    message = error_of(handler.invocations(content_type, None, body(without)), 400)
    assert f"{source} lacks column(s) ['int_rate']" in message
    twice = table.set_column(table.column_names.index("term"), "int_rate", table.column("int_rate"))
    twice = twice.append_column("term", table.column("term"))
    message = error_of(handler.invocations(content_type, None, body(twice)), 400)
    assert f"{source} names column(s) ['int_rate'] more than once" in message


@pytest.mark.parametrize("content_type,body,fragment", [
    ("text/csv", b"", "empty request body"),
    ("text/csv", b"funded_amnt,int_rate\n", "lacks column"),
    ("text/csv", b"\xff\xfe\x00garbage", "not valid utf-8"),
    ("application/json", b'{"rows": []}', "expected a JSON list of records"),
    ("application/json", b"[]", "no data rows"),
    ("application/json", b'[{"a": 1', "malformed JSON"),
    ("application/json", b"[1, 2]", "row 1: expected an object or a list"),
    ("application/vnd.apache.arrow.stream", b"not arrow", "unreadable arrow body"),
    ("application/x-parquet", b"PAR1 not parquet", "unreadable parquet body"),
])
def test_unreadable_bodies(handler, content_type, body, fragment):
    assert fragment in error_of(handler.invocations(content_type, None, body), 400)


def test_json_value_errors_name_row_and_column(handler, model, rows):
    records = json.loads(features(model, rows).head(3).to_json(orient="records"))
    column = model.schema.numeric[2]
    for bad in (True, {"x": 1}, "abc"):
        records[2][column] = bad
        message = error_of(handler.invocations("application/json", None, json.dumps(records).encode()), 400)
        assert f"row 3, column '{column}'" in message
    del records[1][model.schema.categorical[0]]
    message = error_of(handler.invocations("application/json", None, json.dumps(records).encode()), 400)
    assert f"row 2: missing column(s) ['{model.schema.categorical[0]}']" in message


def test_infinite_number_is_a_client_error(handler, model, rows):
    frame = rows.head(2).astype(object)
    frame.loc[1, "annual_inc"] = "1e999"
    message = error_of(handler.invocations("text/csv", None, frame.to_csv(index=False).encode()), 400)
    assert "row 2" in message and "'annual_inc'" in message and "finite" in message


def test_arrow_column_of_the_wrong_type(handler, model, rows):
    table = pa.Table.from_pandas(rows.head(2), preserve_index=False)
    table = table.set_column(table.column_names.index("int_rate"), "int_rate", pa.array([True, False]))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    message = error_of(handler.invocations("application/vnd.apache.arrow.stream", None, sink.getvalue()), 400)
    assert "'int_rate' has type bool" in message


@pytest.mark.parametrize("content_type", [None, "", "application/xml", "text/plain", "text/csv; charset=no-such"])
def test_unsupported_content_type_is_415(handler, rows, content_type):
    error_of(handler.invocations(content_type, None, rows.head(1).to_csv(index=False).encode()), 415)


@pytest.mark.parametrize("accept", ["application/xml", "text/html, image/png", "application/json;q=0"])
def test_unacceptable_accept_is_406(handler, rows, accept):
    error_of(handler.invocations("text/csv", accept, rows.head(1).to_csv(index=False).encode()), 406)


def test_body_over_the_limit_is_413(model, rows):
    small = Handler(model, max_payload_bytes=1000)
    body = rows.head(50).to_csv(index=False).encode()
    assert "exceeds the limit of 1000" in error_of(small.invocations("text/csv", None, body), 413)


def test_an_internal_failure_is_a_500_without_traceback_and_the_handler_keeps_serving(model, rows):
    class Broken:
        name, calls = "broken", 0

        def predict(self, batch):
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("secret internals")
            return np.full(batch.rows, 0.5)

    handler = Handler(model, scorer=Broken())
    body = rows.head(2).to_csv(index=False).encode()
    message = error_of(handler.invocations("text/csv", None, body), 500)
    assert "secret" not in message and "Traceback" not in message
    assert handler.invocations("text/csv", None, body).status == 200


# -- the scorer guard ----------------------------------------------------------------------------

def test_scorer_falls_back_to_the_pipeline_when_the_fast_path_disagrees(model, monkeypatch, rows):
    from serving import scorer

    monkeypatch.setattr(scorer.FastScorer, "predict", lambda self, batch: np.zeros(batch.rows))
    handler = Handler(model)
    assert handler.scorer.name == "pipeline"
    frame = rows.head(3)
    assert_scores(handler.invocations("text/csv", None, frame.to_csv(index=False).encode()), model, frame)


def test_fast_scorer_serves_a_model_with_only_numeric_or_only_categorical_features(one_sided_model, caplog):
    """sklearn leaves the empty side of the ColumnTransformer unfitted; the fast scorer must not need it."""
    from serving.scorer import PipelineScorer

    model, test = one_sided_model
    with caplog.at_level(logging.WARNING, logger="serving"):
        handler = Handler(model)
    assert handler.scorer.name == "fast", caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    frame = features(model, test).astype(object)
    rng = np.random.default_rng(1)
    frame = frame.mask(rng.random(frame.shape) < 0.1)  # 10% missing everywhere
    if model.schema.categorical:
        frame.loc[rng.random(len(frame)) < 0.1, model.schema.categorical[0]] = "unseen"
    body = frame.to_csv(index=False).encode()
    batch = handler.decoder.decode("csv", body)
    np.testing.assert_allclose(handler.scorer.predict_proba(batch), PipelineScorer(model).predict_proba(batch),
                               rtol=0, atol=1e-12)
    assert_scores(handler.invocations("text/csv", None, body), model, frame)


def test_execution_parameters_and_ping(handler):
    # no BatchStrategy: see test_serving_batch_transform.py (local mode fails a job on MULTI_RECORD)
    assert json.loads(handler.execution_parameters().body) == {"MaxConcurrentTransforms": 1, "MaxPayloadInMB": 1}
    assert handler.ping().status == 200
