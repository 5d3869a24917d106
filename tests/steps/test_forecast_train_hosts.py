"""Forecast training over N hosts through the real train step (the toolkit, one process per host, the
job-end barrier): shares disjoint and complete in both sharding modes, every host's part reaching the
one artifact through the leader, a series split across files named, a restarted host resuming."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from localrun.jobs import Job
from localrun.runner import LocalSession, StepFailed
from pipeline.spec import FORECAST, FULLY_REPLICATED, SHARDED_BY_S3_KEY
from tasks.forecast import artifact, channels, cleaning, sharding, split, synthetic

H = 24
SERIES = 30
TRAIN = FORECAST.step("train")
FAST = {"workers": 1, "batch_size": 4}


def write_channels(root, long: pd.DataFrame, files: int, layout=None) -> dict:
    """feature's outputs, the train split in `files` files (series dealt round-robin unless `layout`
    maps a file name to its rows)."""
    train, validation, _ = split.split(long, H)
    ids = sorted(train["series"].unique())
    out = {name: root / name for name in ("train", "validation", "schema")}
    for path in out.values():
        path.mkdir(parents=True)
    if layout is None:
        layout = {f"train-{k}": train[train["series"].isin(ids[k::files])] for k in range(files)}
    for name, rows in layout.items():
        channels.write_split(out["train"], name, rows)
    channels.write_split(out["validation"], "validation", validation)
    channels.write_schema(out["schema"], {"columns": {"series": "series", "time": "timestamp", "value": "value"},
                                          "freq": "h", "horizon": H, "series": len(ids), "season": 24})
    return out


@pytest.fixture(scope="module")
def long():
    rows, _ = cleaning.clean(synthetic.generate(SERIES, days=10, seed=5), freq="h")
    return rows


@pytest.fixture(scope="module")
def engine():
    from localrun.engines import ProcessEngine

    return ProcessEngine()


def train(session: LocalSession, inputs: dict, hosts: int, by_key: bool = False, **hyperparameters):
    # the spec's train channel is sharded by key (validation and schema reach every host); replicated: every host
    # gets every file and takes the series whose stable hash falls on it
    assert TRAIN.input("train").distribution == SHARDED_BY_S3_KEY
    step = TRAIN if by_key else TRAIN.with_distribution(FULLY_REPLICATED)
    return session.run(Job(step, inputs, {**FAST, **hyperparameters}, hosts), use_cache=False)


def artifact_of(result, where):
    with tarfile.open(result.outputs["model"] / "model.tar.gz") as archive:
        archive.extractall(where, filter="data")
    return where


def part_ids(model_dir) -> dict[str, set[str]]:
    meta = json.loads((model_dir / "metadata.json").read_text())
    return {p["host"]: set(artifact.read_states(model_dir / p["file"])["series"].astype(str)) for p in meta["parts"]}


@pytest.fixture(scope="module")
def one_host(tmp_path_factory, long, engine):
    root = tmp_path_factory.mktemp("one")
    result = train(LocalSession(root, engine), write_channels(root / "in", long, 1), hosts=1)
    model, _ = artifact.load(artifact_of(result, root / "model"))
    return model.forecast()


def test_hash_shares_are_disjoint_complete_and_reach_the_artifact_through_the_leader(tmp_path, long, engine, one_host):
    result = train(LocalSession(tmp_path, engine), write_channels(tmp_path / "in", long, 2), hosts=3)
    model_dir = artifact_of(result, tmp_path / "model")
    parts = part_ids(model_dir)
    ids = set(long["series"].astype(str))
    assert set(parts) == {"algo-1", "algo-2", "algo-3"}
    assert set().union(*parts.values()) == ids and sum(map(len, parts.values())) == len(ids)  # disjoint, complete
    for index, host in enumerate(sorted(parts)):  # each host fitted exactly the series its hash names
        assert parts[host] == {s for s in ids if sharding.host_for(s, 3) == index}
    # the hand-off: only the leader wrote /opt/ml/model; the other hosts' parts came over the barrier
    assert not any(any((result.trees[h] / "model").iterdir()) for h in ("algo-2", "algo-3"))
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["data"]["sharding"] == "hash" and set(meta["data"]["hosts"]) == set(parts)
    # the sharded model forecasts as one host fitting every series (batches hold other series: last bits may differ)
    model, _ = artifact.load(model_dir)
    pd.testing.assert_frame_equal(model.forecast(), one_host, check_exact=False, rtol=1e-9, atol=1e-9)


def test_by_key_each_host_models_the_series_of_its_files(tmp_path, long, engine, one_host):
    inputs = write_channels(tmp_path / "in", long, 4)
    result = train(LocalSession(tmp_path, engine), inputs, hosts=2, by_key=True)
    model_dir = artifact_of(result, tmp_path / "model")
    files = sorted(p.name for p in inputs["train"].glob("*.parquet"))
    expected = {host: set().union(*(set(pd.read_parquet(inputs["train"] / f)["series"]) for f in files[i::2]))
                for i, host in enumerate(("algo-1", "algo-2"))}
    assert part_ids(model_dir) == expected
    assert json.loads((model_dir / "metadata.json").read_text())["data"]["sharding"] == "ShardedByS3Key"
    model, _ = artifact.load(model_dir)
    pd.testing.assert_frame_equal(model.forecast(), one_host, check_exact=False, rtol=1e-9, atol=1e-9)


# files train-0..3 over 2 hosts: algo-1 gets train-0 and train-2, algo-2 train-1 and train-3
@pytest.mark.parametrize("first_file, second_file", [
    ("train-0", "train-1"),  # on two hosts: the leader finds it among the parts
    ("train-0", "train-2"),  # both on the leader
    ("train-1", "train-3"),  # both on algo-2, which fails; the leader then misses its part, and says so second
])
def test_by_key_a_series_split_across_files_fails_naming_it(tmp_path, long, engine, first_file, second_file):
    train_rows = split.split(long, H)[0]
    ids = sorted(train_rows["series"].unique())
    victim = ids[0]
    rows = train_rows[train_rows["series"] == victim]
    layout = {f"train-{k}": train_rows[train_rows["series"].isin(ids[1:][k::4])] for k in range(4)}
    layout[first_file] = pd.concat([layout[first_file], rows.iloc[:50]])
    layout[second_file] = pd.concat([layout[second_file], rows.iloc[50:]])
    inputs = write_channels(tmp_path / "in", long, 4, layout=layout)
    with pytest.raises(StepFailed) as failure:
        train(LocalSession(tmp_path, engine), inputs, hosts=2, by_key=True)
    assert failure.value.reason.startswith(f"series '{victim}' appears in both")
    assert f"{first_file}.parquet" in failure.value.reason and f"{second_file}.parquet" in failure.value.reason


def test_a_restarted_host_skips_checkpointed_series_and_ends_with_the_same_forecasts(tmp_path, long, engine, capfd):
    session = LocalSession(tmp_path, engine)
    inputs = write_channels(tmp_path / "in", long, 1)
    first = train(session, inputs, hosts=2)
    before, _ = artifact.load(artifact_of(first, tmp_path / "before"))
    # the spot restart of algo-2: its newest checkpoint (every series) lost, the one before it kept
    checkpoints = sorted((first.trees["algo-2"] / "checkpoints" / "algo-2").glob("checkpoint-*.joblib"))
    assert len(checkpoints) == 2
    checkpoints[-1].unlink()
    done = int(checkpoints[0].name.split("-")[1].split(".")[0])
    capfd.readouterr()
    second = train(session, inputs, hosts=2)
    out = capfd.readouterr().out
    assert f"algo-2 resuming with {done} series done" in out
    after, _ = artifact.load(artifact_of(second, tmp_path / "after"))
    pd.testing.assert_frame_equal(after.forecast(), before.forecast(), check_exact=True)
    assert np.array_equal(after.states["series"], before.states["series"])
