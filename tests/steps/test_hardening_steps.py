"""Hardening (issue 11, items 4 and 8) through the real steps in /opt/ml trees."""

import pandas as pd
import pytest

from localrun.runner import LocalSession, StepFailed
from pipeline.spec import SHARDED_BY_S3_KEY
from tests.steps.conftest import job
from tests.conftest import REPO

PENGUINS = REPO / "tests" / "data" / "penguins.csv"


def test_clean_shards_with_different_column_orders_make_one_schema(tmp_path, engine):
    frame = pd.read_csv(PENGUINS)
    raw = tmp_path / "raw"
    raw.mkdir()
    frame.iloc[::2].to_csv(raw / "part-0.csv", index=False)
    frame.iloc[1::2][list(reversed(frame.columns))].to_csv(raw / "part-1.csv", index=False)
    session = LocalSession(tmp_path / "run", engine)
    clean = session.run(job("clean", {"raw": raw}, {"target": "sex", "positive_label": "female"},
                            instance_count=2, distribution=SHARDED_BY_S3_KEY))
    feature = session.run(job("feature", {"cleaned": clean.outputs["cleaned"]}))
    train = pd.read_parquet(feature.outputs["train"] / "train.parquet")
    assert list(train.columns) == list(frame.columns)  # the first shard's order: the file order of the data


def test_evaluation_of_a_truncated_model_archive_is_bad_input(tmp_path, engine, prepared, model_dir):
    from contract import modeltar

    archive = modeltar.pack(model_dir, tmp_path / "s3" / "model" / "model.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(StepFailed) as failure:
        LocalSession(tmp_path, engine).run(job("evaluation", {"model": tmp_path / "s3" / "model", "test": prepared["test"]}))
    assert failure.value.code == 2, failure.value.reason
    assert "truncated or corrupt archive" in failure.value.reason
