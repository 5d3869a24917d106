"""feature's train split in K files for a ShardedByS3Key train channel, and evaluation's forecasts per training host."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from tasks.forecast import artifact, channels, cleaning, evaluation, model, sharding, split, synthetic

H = 24


@pytest.fixture(scope="module")
def long():
    rows, _ = cleaning.clean(synthetic.generate(40, days=6, seed=3), freq="h")
    return rows


@pytest.mark.parametrize("files", [1, 3, 8, 64])
def test_train_files_are_disjoint_complete_and_each_series_in_one(tmp_path, long, files):
    train, _, _ = split.split(long, H)
    written = channels.write_split_files(tmp_path, "train", train, files)
    assert written == sorted(p.name for p in tmp_path.iterdir()) and len(written) <= files
    parts = channels.read_split_files(tmp_path)
    ids = [set(part["series"]) for part in parts.values()]
    assert set().union(*ids) == set(train["series"]) and sum(map(len, ids)) == train["series"].nunique()
    sharding.check_series_in_one_file({name: part["series"] for name, part in parts.items()})  # raises if split
    together = pd.concat(parts.values()).sort_values(["series", "timestamp"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, train.sort_values(["series", "timestamp"]).reset_index(drop=True))
    for name, part in parts.items():  # file k holds the series whose stable hash is k: the same on every run
        k = int(name.removeprefix("train-").removesuffix(".parquet"))
        assert all(sharding.host_for(s, files) == k for s in part["series"].unique())
    if files == 64:  # more files than series: only the files some series falls in are written
        assert len(written) < 40


def test_hosts_given_whole_files_model_every_series_once(tmp_path, long):
    """ShardedByS3Key hands each of N hosts whole objects: whatever the split of 8 files, the shares are disjoint and complete."""
    train, _, _ = split.split(long, H)
    names = channels.write_split_files(tmp_path, "train", train, 8)
    files = channels.read_split_files(tmp_path)
    for n_hosts in (1, 2, 3, 4):
        shares = [sharding.host_share({n: files[n] for n in names[h::n_hosts]}, True, h, n_hosts)[0] for h in range(n_hosts)]
        owned = [set(s["series"]) for s in shares]
        assert set().union(*owned) == set(train["series"]) and sum(map(len, owned)) == train["series"].nunique()


def test_files_below_one_are_refused(tmp_path, long):
    with pytest.raises(DataError, match="files must be at least 1"):
        channels.write_split_files(tmp_path, "train", long, 0)


def test_forecasts_carry_the_host_that_fitted_each_series(tmp_path, long):
    train, validation, test = split.split(long, H)
    hosts = {"algo-1": sharding.shard(train, 0, 2), "algo-2": sharding.shard(train, 1, 2)}
    states = {host: model.fit(rows, validation[validation["series"].isin(rows["series"])], H, 24, freq="h").states
              for host, rows in hosts.items()}
    artifact.save_parts(tmp_path, states, freq="h", horizon=H, season=24, columns={})
    fitted, metadata = artifact.load(tmp_path)
    by_host = artifact.series_by_host(tmp_path, metadata)
    assert {h: set(ids) for h, ids in by_host.items()} == {h: set(rows["series"]) for h, rows in hosts.items()}
    _, forecasts, _ = evaluation.evaluate(fitted, test)
    tagged = evaluation.with_hosts(forecasts, by_host)
    for host, rows in hosts.items():
        assert set(tagged.loc[tagged["host"] == host, "series"]) == set(rows["series"])
    pd.testing.assert_frame_equal(tagged.drop(columns="host"), forecasts)
    with pytest.raises(DataError, match="is in no host's part"):
        evaluation.with_hosts(forecasts, {"algo-1": by_host["algo-1"]})
    with pytest.raises(DataError, match="is in the parts of both algo-1 and algo-2"):
        evaluation.with_hosts(forecasts, {"algo-1": by_host["algo-1"], "algo-2": by_host["algo-1"] + by_host["algo-2"]})


def test_a_one_file_artifact_is_algo_1s(tmp_path, long):
    train, validation, _ = split.split(long, H)
    fitted = model.fit(train, validation, H, 24, freq="h")
    artifact.save(tmp_path, fitted, columns={})
    _, metadata = artifact.load(tmp_path)
    assert artifact.series_by_host(tmp_path, metadata) == {"algo-1": sorted(np.asarray(fitted.ids, dtype=str))}
