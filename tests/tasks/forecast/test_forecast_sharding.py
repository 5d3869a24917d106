"""Sharding: a stable hash of the series id, disjoint and complete; by file, no series in two files."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pandas as pd
import pytest

from common.errors import DataError
from tasks.forecast import sharding, synthetic


def test_hash_shards_are_disjoint_and_complete_for_any_host_count():
    long = synthetic.generate(200, days=2, seed=1)
    ids = set(long["series"])
    for n_hosts in (1, 2, 3, 4):
        shards = [sharding.shard(long, h, n_hosts) for h in range(n_hosts)]
        owned = [set(s["series"]) for s in shards]
        assert set().union(*owned) == ids
        assert sum(len(o) for o in owned) == len(ids)
        assert sum(len(s) for s in shards) == len(long)  # every row of a series goes with it
        if n_hosts > 1:
            assert min(len(o) for o in owned) > 0.5 * len(ids) / n_hosts


def test_the_hash_is_sha256_and_the_same_in_another_process():
    expected = int.from_bytes(hashlib.sha256(b"srv-0042").digest()[:8], "big") % 7
    assert sharding.host_for("srv-0042", 7) == expected
    code = "import sys; sys.path.insert(0, 'scripts'); from tasks.forecast import sharding; print(sharding.host_for('srv-0042', 7))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert int(other.stdout) == expected


def test_a_series_in_two_files_is_named_with_both_files():
    sharding.check_series_in_one_file({"a.csv": ["s1", "s2"], "b.csv": ["s3"]})
    with pytest.raises(DataError, match="series 's2' appears in both a.csv and b.csv"):
        sharding.check_series_in_one_file({"a.csv": ["s1", "s2"], "b.csv": pd.Series(["s3", "s2"])})


def test_a_host_index_out_of_range_is_refused():
    with pytest.raises(DataError, match="host index 2 outside 0..1"):
        sharding.shard(pd.DataFrame({"series": ["a"]}), 2, 2)
