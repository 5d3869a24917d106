"""The forecast task as a Batch Transform container: JSON Lines of series ids in, one JSON line of forecasts
with intervals per id out, equal to the real-time answers; a request naming no series forecasts every one;
an unknown id fails the request naming its line, or is answered by the placeholder object on its line."""

from __future__ import annotations

import json

import pytest

from serve_process import Server, serving_tree
from forecast_models import H, train_forecaster

JSONL = {"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"}


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("forecast-batch-model")
    return train_forecaster(directory, seed=5), directory


def _server(tmp_path_factory, directory, name, **env):
    srv = Server(serving_tree(tmp_path_factory.mktemp(name), directory), SAGEMAKER_BATCH="true", SAGEMAKER_MODEL_SERVER_WORKERS="1", **env)
    srv.wait_for(200)
    return srv


@pytest.fixture(scope="module")
def servers(tmp_path_factory, forecaster):
    started = []
    try:
        started.append(Server(serving_tree(tmp_path_factory.mktemp("forecast-realtime"), forecaster[1]), SAGEMAKER_MODEL_SERVER_WORKERS="1"))
        started[0].wait_for(200)
        started.append(_server(tmp_path_factory, forecaster[1], "forecast-batch"))
        started.append(_server(tmp_path_factory, forecaster[1], "forecast-placeholder", SAGEMAKER_BATCH_BAD_RECORDS="placeholder"))
        yield dict(zip(("realtime", "batch", "placeholder"), started))
    finally:
        for srv in started:
            srv.stop()


def _lines(srv, body: bytes) -> list[dict]:
    status, answer, _ = srv.request("POST", "/invocations", body, JSONL)
    assert status == 200, answer
    assert not answer.endswith(b"\n")  # AssembleWith=Line adds the newline after each response
    return [json.loads(line) for line in answer.split(b"\n")]


def _realtime(srv, ids: list[str], horizon: int | None = None) -> dict[str, list[dict]]:
    request = {"series": ids, **({"horizon": horizon} if horizon else {})}
    status, answer, _ = srv.request("POST", "/invocations", json.dumps(request).encode(), {"Content-Type": "application/json"})
    assert status == 200
    by_series: dict[str, list[dict]] = {}
    for row in json.loads(answer)["forecasts"]:
        by_series.setdefault(row.pop("series"), []).append(row)
    return by_series


def test_batch_forecasts_equal_the_realtime_forecasts_line_for_line(servers, forecaster):
    fitted, _ = forecaster
    ids = [str(i) for i in reversed(fitted.ids)]
    body = "\n".join([json.dumps({"series": ids[0], "horizon": 6}), json.dumps(ids[1]),
                      *(json.dumps({"series": sid}) for sid in ids[2:])]).encode() + b"\n"
    lines = _lines(servers["batch"], body)
    assert [line["series"] for line in lines] == ids  # one line per record, in order
    assert lines[0]["horizon"] == 6 and all(line["horizon"] == H for line in lines[1:])
    assert lines[0]["forecasts"] == _realtime(servers["realtime"], [ids[0]], 6)[ids[0]]
    realtime = _realtime(servers["realtime"], ids[1:])
    for line in lines[1:]:
        assert line["forecasts"] == realtime[line["series"]]
        assert all(p["lower"] <= p["mean"] <= p["upper"] for p in line["forecasts"])


def test_a_request_naming_no_series_forecasts_every_series_in_batch_mode_only(servers, forecaster):
    fitted, _ = forecaster
    for body in (b"", b'{"horizon": 3}\n'):
        lines = _lines(servers["batch"], body)
        assert [line["series"] for line in lines] == [str(i) for i in fitted.ids]
        assert {line["horizon"] for line in lines} == {3 if body else H}
    status, answer, _ = servers["realtime"].request("POST", "/invocations", b"{}\n", JSONL)
    assert status == 400 and b"batch transform" in answer


def test_an_unknown_id_fails_naming_its_line_or_is_the_placeholder_object(servers, forecaster):
    fitted, _ = forecaster
    body = f'"{fitted.ids[0]}"\n"nope"\n{{"series": "{fitted.ids[1]}", "horizon": 999}}\n"{fitted.ids[2]}"\n'.encode()
    status, answer, _ = servers["batch"].request("POST", "/invocations", body, JSONL)
    message = json.loads(answer)["error"]
    assert status == 400 and message.startswith("line 2: unknown series id 'nope'")
    assert "SAGEMAKER_BATCH_BAD_RECORDS=placeholder" in message
    lines = _lines(servers["placeholder"], body)
    assert lines[1] == {"error": "line 2: unknown series id 'nope'"}
    assert lines[2] == {"error": "line 3: horizon 999 is outside 1..24 (the trained horizon)"}
    assert [lines[0]["series"], lines[3]["series"]] == [str(fitted.ids[0]), str(fitted.ids[2])]
    assert lines[3]["forecasts"] == _realtime(servers["realtime"], [str(fitted.ids[2])])[str(fitted.ids[2])]


def test_csv_ids_are_answered_as_json_lines(servers, forecaster):
    fitted, _ = forecaster
    status, answer, _ = servers["batch"].request("POST", "/invocations", f"{fitted.ids[0]},2\n{fitted.ids[1]}\n".encode(),
                                                 {"Content-Type": "text/csv", "Accept": "application/jsonlines"})
    assert status == 200
    lines = [json.loads(line) for line in answer.split(b"\n")]
    assert [(line["series"], line["horizon"]) for line in lines] == [(str(fitted.ids[0]), 2), (str(fitted.ids[1]), H)]
