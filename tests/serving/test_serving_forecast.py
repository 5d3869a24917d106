"""The forecast task under the same server: a real server on 127.0.0.1 serving a forecast artifact answers
forecasts with intervals for the series asked, equal to the model's own, and refuses what it cannot answer."""

from __future__ import annotations

import csv
import io
import json

import pytest

from serve_process import Server, serving_tree
from forecast_models import H, train_forecaster



@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("forecast-model")
    return train_forecaster(directory, seed=3), directory


@pytest.fixture(scope="module")
def server(tmp_path_factory, forecaster):
    srv = Server(serving_tree(tmp_path_factory.mktemp("serve"), forecaster[1]))
    try:
        srv.wait_for(200)
        yield srv
    finally:
        srv.stop()


def test_json_forecasts_equal_the_models_own_in_request_order(server, forecaster):
    fitted, _ = forecaster
    ids = list(reversed(fitted.ids[:3]))
    status, body, _ = server.request("POST", "/invocations", json.dumps({"series": ids, "horizon": 6}).encode(),
                                     {"Content-Type": "application/json"})
    assert status == 200
    answer = json.loads(body)["forecasts"]
    assert [row["series"] for row in answer] == [sid for sid in ids for _ in range(6)]
    expected = fitted.forecast(ids, 6).set_index(["series", "step"])
    for row in answer:
        mine = expected.loc[(row["series"], row["step"])]
        assert (row["mean"], row["lower"], row["upper"]) == (mine["mean"], mine["lower"], mine["upper"])
        assert row["lower"] <= row["mean"] <= row["upper"]


def test_csv_requests_name_series_and_horizons(server, forecaster):
    fitted, _ = forecaster
    body = f"{fitted.ids[0]},2\n{fitted.ids[1]}\n".encode()
    status, answer, _ = server.request("POST", "/invocations", body, {"Content-Type": "text/csv", "Accept": "text/csv"})
    assert status == 200
    rows = list(csv.reader(io.StringIO(answer.decode())))
    assert [r[0] for r in rows] == [fitted.ids[0]] * 2 + [fitted.ids[1]] * H  # its own horizon, or the trained one


@pytest.mark.parametrize("payload, words", [
    ({"series": ["no-such-server"]}, "unknown series id(s): 'no-such-server'"),
    ({"series": ["x"], "horizon": H + 1}, f"horizon {H + 1} is outside 1..{H}"),
    ({"rows": []}, 'expected {"series": [ids]'),
])
def test_what_it_cannot_answer_is_a_400_that_says_which(server, forecaster, payload, words):
    if payload.get("series") == ["x"]:
        payload["series"] = [forecaster[0].ids[0]]
    status, body, _ = server.request("POST", "/invocations", json.dumps(payload).encode(), {"Content-Type": "application/json"})
    assert status == 400 and words in json.loads(body)["error"]
