"""The environment SageMaker gives an inference container, decoded once and validated.

Read at call time (no import-time side effects), so tests set variables per server.
A malformed value is a ConfigError that names the variable: the container then stops
at once with that message instead of serving with a silently different setting.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from common.errors import ConfigError

MIB = 1024 * 1024
BATCH_PAYLOAD_LIMIT_MB = 100  # Batch Transform's own cap, and MaxConcurrentTransforms x MaxPayloadInMB <= 100
BATCH_TIMEOUT = 600  # ModelClientConfig.InvocationsTimeoutInSeconds' default; the container cannot read it
BAD_RECORDS = ("fail", "placeholder")


@dataclass(frozen=True)
class ServingConfig:
    host: str
    port: int
    workers: int
    timeout: int  # seconds one invocation may take (SageMaker's own limit is 60 s)
    max_payload_bytes: int
    batch: bool = False  # SAGEMAKER_BATCH: started by a Batch Transform job
    bad_records: str = "fail"  # SAGEMAKER_BATCH_BAD_RECORDS: what a bad record in a mini-batch does
    max_concurrent_transforms: int = 1

    @property
    def payload_mb(self) -> int:
        return max(1, self.max_payload_bytes // MIB)


def _number(env: Mapping[str, str], name: str, default: float, kind: type, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}: expected {kind.__name__}, got {raw!r}") from None
    if not (math.isfinite(value) and minimum <= value <= maximum):
        raise ConfigError(f"environment variable {name}: {raw!r} is outside [{minimum:g}, {maximum:g}]")
    return value


def cpu_count() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota.

    os.cpu_count() reports the host's CPUs, which overcounts inside a limited container.
    """
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpu_quota()
    return max(1, min(count, math.ceil(quota))) if quota else max(1, count)


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: quota -1 means unlimited
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True  # the platform sends "true", the SDK's local mode "True"
    raise ConfigError(f"environment variable {name}: expected true or false, got {raw!r}")


def serving_config(env: Mapping[str, str] | None = None) -> ServingConfig:
    """SAGEMAKER_BIND_TO_PORT (8080), SAGEMAKER_MODEL_SERVER_WORKERS (CPU count),
    SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s), SAGEMAKER_MAX_PAYLOAD_IN_MB (6 MiB).

    SERVING_HOST (default 0.0.0.0, as a container must) is this project's own: local runs
    and tests bind 127.0.0.1.

    With SAGEMAKER_BATCH set (a Batch Transform job) the defaults are the job's: a payload of
    floor(100 / workers) MiB (at most 100, the platform's cap on concurrency x payload), a
    timeout of 600 s (the invocation timeout's default), and SAGEMAKER_BATCH_BAD_RECORDS
    (fail | placeholder, this project's own) says what a bad record in a mini-batch does.
    The platform sets SAGEMAKER_MAX_PAYLOAD_IN_MB only when the job's request names a
    payload; it wins then. SAGEMAKER_BATCH_STRATEGY needs no reading: each record is one
    line whichever strategy packed the request.
    """
    env = os.environ if env is None else env
    host = env.get("SERVING_HOST", "").strip() or "0.0.0.0"
    port = _number(env, "SAGEMAKER_BIND_TO_PORT", 8080, int, 1, 65535)
    workers = int(_number(env, "SAGEMAKER_MODEL_SERVER_WORKERS", cpu_count(), int, 1, 256))
    batch = _flag(env, "SAGEMAKER_BATCH")
    if not batch:
        timeout = _number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, int, 1, 3600)
        payload_mb = _number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 6, float, 0.001, 1024)
        return ServingConfig(host, int(port), workers, int(timeout), int(payload_mb * MIB))
    timeout = _number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", BATCH_TIMEOUT, int, 1, 3600)
    payload_mb = _number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", max(1, BATCH_PAYLOAD_LIMIT_MB // workers), float,
                         0.001, BATCH_PAYLOAD_LIMIT_MB)  # 0 (unbounded, chunked) is refused: memory stays bounded
    bad_records = env.get("SAGEMAKER_BATCH_BAD_RECORDS", "").strip().lower() or "fail"
    if bad_records not in BAD_RECORDS:
        raise ConfigError(f"environment variable SAGEMAKER_BATCH_BAD_RECORDS: {bad_records!r}; "
                          f"use one of {list(BAD_RECORDS)}")
    # as many concurrent requests as workers, within the platform's concurrency x payload <= 100 MB
    concurrent = max(1, min(workers, BATCH_PAYLOAD_LIMIT_MB // max(1, math.ceil(payload_mb))))
    return ServingConfig(host, int(port), workers, int(timeout), int(payload_mb * MIB), True, bad_records, concurrent)
