"""Run in spawned processes by the registry tests: imports nothing from a conftest, whose module name
(`conftest`) would resolve to whichever test folder pytest put first on sys.path."""

from __future__ import annotations

from localrun.controlplane.db import Store


def register_directly(path: str, count: int) -> list[int]:
    store = Store(path)
    return [store.add_package("shared", lambda version, now: {"ModelPackageVersion": version})["ModelPackageVersion"]
            for _ in range(count)]
