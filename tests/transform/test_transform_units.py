"""The transform runner's rules without a server: splitting, packing, spreading, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import ConfigError
from localrun.transform import (ObjectFailed, TransformJob, assign, container_environment, input_objects,
                                mini_batches, normalized_strategy, records_of, validate)


def test_records_are_lines_blank_lines_skipped_last_newline_added(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\r\n\n3,4\n5,6")
    assert list(records_of(path)) == [b"1,2\r\n", b"3,4\n", b"5,6\n"]


def test_multi_record_packs_up_to_the_limit_in_order():
    records = [f"{i:04d},x\n".encode() for i in range(100)]  # 7 bytes each
    batches = list(mini_batches(iter(records), "MultiRecord", 70))
    assert [count for _, count, _ in batches] == [10] * 10
    assert all(len(body) <= 70 for body, _, _ in batches)
    assert [first for _, _, first in batches] == list(range(1, 101, 10))
    assert b"".join(body for body, _, _ in batches) == b"".join(records)


def test_single_record_sends_one_per_request():
    records = [b"a\n", b"b\n", b"c\n"]
    assert list(mini_batches(iter(records), "SingleRecord", 1000)) == [(b"a\n", 1, 1), (b"b\n", 1, 2), (b"c\n", 1, 3)]


def test_a_record_above_the_limit_fails_naming_it():
    with pytest.raises(ObjectFailed, match="record 2 is 11 bytes"):
        list(mini_batches(iter([b"a\n", b"0123456789\n"]), "MultiRecord", 10))


def test_objects_spread_by_key_disjointly_and_completely():
    keys = [f"k{i}" for i in range(7)]
    plan = assign(keys, 3)
    assert sorted(k for ks in plan.values() for k in ks) == sorted(keys)
    assert [len(ks) for ks in plan.values()] == [3, 2, 2]
    assert assign(["only"], 2) == {"algo-1": ["only"], "algo-2": []}  # one file: one busy instance


def test_input_objects_keep_sub_paths_and_skip_dotfiles(tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    for name in ("b.csv", "x/a.csv", "x/y/c.csv", ".hidden", "x/.part.tmp"):
        (tmp_path / name).write_text("1\n")
    prefix, keys = input_objects(tmp_path)
    assert prefix == tmp_path.resolve() and keys == ["b.csv", "x/a.csv", "x/y/c.csv"]
    assert input_objects(tmp_path / "b.csv") == (tmp_path.resolve(), ["b.csv"])


@pytest.mark.parametrize("spelling, expected", [("MULTI_RECORD", "MultiRecord"), ("MultiRecord", "MultiRecord"),
                                                ("SINGLE_RECORD", "SingleRecord"), ("singlerecord", "SingleRecord")])
def test_both_strategy_spellings_accepted(spelling, expected):
    assert normalized_strategy(spelling, "BatchStrategy") == expected


def _job(tmp_path: Path, **settings) -> TransformJob:
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    return TransformJob(data=data, output=tmp_path / "out", model_tar=tmp_path / "model.tar.gz", **settings)


@pytest.mark.parametrize("settings, message", [
    ({"batch_strategy": "Everything"}, "BatchStrategy"),
    ({"max_payload_mb": 0}, "MaxPayloadInMB 0"),
    ({"max_payload_mb": 101}, "MaxPayloadInMB 101"),
    ({"max_payload_mb": 30, "max_concurrent_transforms": 4}, "exceeds 100"),
    ({"split_type": "RecordIO"}, "SplitType"),
    ({"instances": 0}, "InstanceCount"),
    ({"environment": {f"V{i}": "1" for i in range(17)}}, "at most 16"),
])
def test_job_settings_validated_before_anything_starts(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        validate(_job(tmp_path, **settings))


def test_output_inside_the_input_is_refused(tmp_path):
    job = _job(tmp_path)
    with pytest.raises(ConfigError, match="inside the input"):
        validate(TransformJob(data=job.data, output=job.data / "out", model_tar=job.model_tar))


def test_container_gets_the_limits_only_when_the_job_sets_them(tmp_path):
    assert container_environment(_job(tmp_path)) == {"SAGEMAKER_BATCH": "true"}
    env = container_environment(_job(tmp_path, batch_strategy="MultiRecord", max_payload_mb=10,
                                     max_concurrent_transforms=2, environment={"A": "b"}))
    assert env == {"A": "b", "SAGEMAKER_BATCH": "true", "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
                   "SAGEMAKER_MAX_PAYLOAD_IN_MB": "10", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2"}
