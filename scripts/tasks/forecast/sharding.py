"""Which host models which series: by file (ShardedByS3Key) or by a stable hash of the id (replicated).

The hash is SHA-256 of the UTF-8 id, never Python's hash(), which changes between processes.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from common.errors import DataError


def host_for(series_id: str, n_hosts: int) -> int:
    """The host index (0-based) that owns `series_id` among `n_hosts`; the same on every machine."""
    digest = hashlib.sha256(str(series_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n_hosts


def hosts_for(series_ids: Iterable[str], n_hosts: int) -> np.ndarray:
    return np.array([host_for(s, n_hosts) for s in series_ids], dtype=np.int64)


def shard(long: pd.DataFrame, host_index: int, n_hosts: int) -> pd.DataFrame:
    """The rows of the series that host `host_index` owns (replicated input, hash mode)."""
    if not 0 <= host_index < n_hosts:
        raise DataError(f"host index {host_index} outside 0..{n_hosts - 1}")
    ids = pd.unique(long["series"])
    owned = ids[hosts_for(ids, n_hosts) == host_index]
    return long[long["series"].isin(owned)].reset_index(drop=True)


def check_series_in_one_file(ids_by_file: Mapping[str, Iterable[str]]) -> None:
    """Sharding by S3 key gives each host whole files: a series split across files would be
    modelled in pieces on different hosts, so it is an error naming the series and both files."""
    owner: dict[str, str] = {}
    for name, ids in ids_by_file.items():
        for sid in pd.unique(pd.Series(list(ids), dtype=object).astype(str)):
            if sid in owner and owner[sid] != name:
                raise DataError(
                    f"series '{sid}' appears in both {owner[sid]} and {name}: with sharding by S3 key every "
                    "series must be in one file (or use a replicated input, sharded by series id)"
                )
            owner[sid] = name


def host_share(files: Mapping[str, pd.DataFrame], by_key: bool, host_index: int, n_hosts: int
               ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """This host's rows of a channel read file by file, and the series ids of each file it models.

    by_key (ShardedByS3Key): the files are this host's share already; every series it sees is its
    own, and one in two of its files is an error naming both. Otherwise (replicated) every host has
    every file and keeps the series whose stable hash falls on it.
    """
    frames = [f for f in files.values()]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["series", "timestamp", "value"])
    ids_by_file = {name: [str(i) for i in pd.unique(frame["series"])] for name, frame in files.items()}
    if by_key:
        check_series_in_one_file(ids_by_file)
        return rows, ids_by_file
    if n_hosts > 1:
        rows = shard(rows, host_index, n_hosts)
        mine = set(pd.unique(rows["series"]).astype(str))
        ids_by_file = {name: [i for i in ids if i in mine] for name, ids in ids_by_file.items()}
    return rows, ids_by_file
