"""The forecast artifact: round trip, hash checked before reading, checkpoints in the same format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.forecast import artifact, cleaning, model, split, synthetic

H = 24


@pytest.fixture(scope="module")
def fitted():
    long, _ = cleaning.clean(synthetic.generate(6, days=14, seed=2), freq="h")
    train, validation, _ = split.split(long, H)
    return model.fit(train, validation, H, 24, freq="h")


def test_saved_model_forecasts_exactly_as_before(tmp_path, fitted):
    columns = {"series": "series", "time": "timestamp", "value": "value"}
    meta = artifact.save(tmp_path, fitted, columns, params={"horizon": H}, data={"train_sha256": "x"})
    loaded, metadata = artifact.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.forecast(), fitted.forecast(), check_exact=True)
    assert metadata["task"] == "forecast" and metadata["schema"]["horizon"] == H and metadata["schema"]["season"] == 24
    assert metadata["schema"]["columns"] == columns and metadata["sample_series"] == fitted.ids[:3]
    assert meta["model_sha256"] == metadata["model_sha256"] and "numpy" in metadata["versions"]
    artifact.self_test(loaded, metadata)


def test_an_altered_model_file_is_refused_before_it_is_read(tmp_path, fitted):
    artifact.save(tmp_path, fitted, {"series": "series", "time": "timestamp", "value": "value"})
    path = tmp_path / artifact.PART_FILE.format(host="algo-1")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifact.ArtifactError, match="does not match metadata"):
        artifact.load(tmp_path)


def test_another_task_is_refused(tmp_path, fitted):
    artifact.save(tmp_path, fitted, {})
    meta = json.loads((tmp_path / artifact.METADATA_FILE).read_text())
    meta["task"] = "classifier"
    (tmp_path / artifact.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(artifact.ArtifactError, match="task 'classifier'"):
        artifact.load(tmp_path)


def test_checkpointed_states_round_trip(tmp_path, fitted):
    artifact.write_states(tmp_path / "states.npz", fitted.states)
    back = artifact.read_states(tmp_path / "states.npz")
    for field in model.FIELDS:
        assert back[field].dtype.kind == fitted.states[field].dtype.kind or field in model.TEXT_FIELDS
        assert np.array_equal(back[field].astype(str) if field in model.TEXT_FIELDS else back[field],
                              fitted.states[field].astype(str) if field in model.TEXT_FIELDS else fitted.states[field],
                              equal_nan=field not in model.TEXT_FIELDS + model.TIME_FIELDS)
