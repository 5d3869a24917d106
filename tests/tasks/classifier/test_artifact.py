import json

import numpy as np
import pytest

from tasks.classifier import artifact
from tasks.classifier.artifact import ArtifactError, InputError


def test_round_trip_scores_raw_rows_with_the_saved_threshold(model_dir, lending_split):
    _, _, _, test = lending_split
    model = artifact.load(model_dir)
    proba = model.predict_proba(test)
    labels = model.label(proba)
    assert set(labels) <= {"bad", "good"}
    assert np.array_equal(labels == "bad", proba >= model.metadata["threshold"])
    model.self_test()
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["versions"]["scikit-learn"] and meta["schema"]["target"] == "Class"
    assert [f["name"] for f in meta["features"]] == list(model.schema.features)


def test_unseen_categories_and_missing_values_are_scored(model_dir, lending_split):
    model = artifact.load(model_dir)
    rows = lending_split[3].head(3).copy()
    rows["addr_state"] = ["ZZ", None, "CA"]
    rows["int_rate"] = [None, "", "12.5"]
    proba = model.predict_proba(rows)
    assert np.all((proba > 0) & (proba < 1))


def test_bad_values_name_row_and_column(model_dir, lending_split):
    model = artifact.load(model_dir)
    rows = lending_split[3].head(3).astype(object)
    rows.iloc[1, rows.columns.get_loc("annual_inc")] = "lots"
    with pytest.raises(InputError) as error:
        model.predict_proba(rows)
    assert "row 2, column 'annual_inc': 'lots' is not a number" in str(error.value)
    assert (error.value.row, error.value.column) == (2, "annual_inc")
    with pytest.raises(InputError, match=r"missing column\(s\) \['term'\]"):
        model.predict_proba(rows.drop(columns=["term"]))


def test_a_tampered_model_file_is_refused(model_dir, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    for f in model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    with open(copy / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="does not match metadata"):
        artifact.load(copy)
    meta = json.loads((model_dir / "metadata.json").read_text())
    del meta["threshold"]
    (copy / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"metadata.json: missing \['threshold'\]"):
        artifact.load(copy)
    (copy / "metadata.json").unlink()
    with pytest.raises(ArtifactError, match="is not a model artifact"):
        artifact.load(copy)


def test_another_scikit_learn_version_is_refused(model_dir, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="trained with scikit-learn 0.24.2"):
        artifact.load(copy)
