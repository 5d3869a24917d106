"""Hardening (issue 11, items 13, 15, 16): bounded error bodies, header detection, a corrupt pickle's reason."""

import json
import shutil

import pytest

from serving.decode import Decoder
from serving.errors import RequestError
from serving.handler import Handler
from tasks.classifier import artifact


def error_of(response, status):
    assert response.status == status, response
    return json.loads(response.body)["error"]


def test_a_huge_bad_json_value_gives_a_short_400(model):
    handler = Handler(model, max_payload_bytes=8 * 1024 * 1024)  # the 5 MB value must pass the size limit
    record = {name: None for name in model.schema.features}
    record[model.schema.numeric[0]] = "x" * 5_000_000
    response = handler.invocations("application/json", None, json.dumps([record]).encode())
    message = error_of(response, 400)
    assert len(response.body) < 1024, f"error body of {len(response.body)} bytes"
    assert f"row 1, column '{model.schema.numeric[0]}'" in message and "5000000 characters" in message
    odd = {**record, model.schema.numeric[0]: {"nested": ["y" * 1_000_000]}}
    assert len(handler.invocations("application/json", None, json.dumps([odd]).encode()).body) < 1024


def headerless_row(model, rows, value):
    """One training-order CSV line whose first categorical field is `value`."""
    row = rows.head(1)[list(model.schema.features)].copy()
    row[model.schema.categorical[0]] = value
    return row.to_csv(index=False, header=False)


def test_a_headerless_row_whose_category_is_a_feature_name_is_data(handler, model, rows):
    body = headerless_row(model, rows, model.schema.features[0])
    response = handler.invocations("text/csv", None, body.encode())
    assert response.status == 200, response.body
    assert len(json.loads(response.body)["predictions"]) == 1


def test_header_mime_parameter_forces_either_reading(handler, model, rows):
    frame = rows.head(2)[list(model.schema.features)]
    with_header = frame.to_csv(index=False).encode()
    assert handler.invocations("text/csv; header=present", None, with_header).status == 200
    answer = handler.invocations("text/csv; header=absent", None, with_header)
    assert "not a number" in error_of(answer, 400)  # the names read as a data row
    headerless = frame.to_csv(index=False, header=False).encode()
    assert len(json.loads(handler.invocations("text/csv;header=absent", None, headerless).body)["predictions"]) == 2
    assert "header" in error_of(handler.invocations("text/csv; header=maybe", None, headerless), 400)


def test_a_header_naming_only_known_columns_is_still_a_header(handler, model, rows):
    names = [model.schema.target, *model.schema.features[1:]]  # a feature missing
    message = error_of(handler.invocations("text/csv", None, (",".join(names) + "\n").encode()), 400)
    assert "CSV header lacks column(s)" in message


def test_a_corrupt_pickle_with_a_matching_hash_says_what_it_is(tmp_path, model_dir):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    model_file = copy / artifact.MODEL_FILE
    model_file.write_bytes(b"\x80\x04h\x00.")  # a pickle that refers to a memo entry it never made

    meta = json.loads((copy / artifact.METADATA_FILE).read_text())
    meta["model_sha256"] = artifact.sha256_file(model_file)  # written corrupt: the hash was taken afterwards
    (copy / artifact.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(artifact.ArtifactError, match=r"model.joblib: cannot be unpickled .*SHA-256 matches"):
        artifact.load(copy)


def test_decoder_never_reports_header_for_ambiguous_first_rows(model):
    decoder = Decoder(model.schema)
    line = ",".join(["1"] * len(model.schema.numeric) + list(model.schema.features[: len(model.schema.categorical)]))
    try:
        decoder.decode("csv", line.encode())
    except RequestError as exc:
        assert "header" not in str(exc), exc
