"""Shared fixtures: the real default dataset and a real trained artifact built from it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "lending_club.csv"

# As AWS's own toolkit CI does: no credentials, no region, nothing can reach AWS by accident.
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# No network either: any HTTP(S) client that honours the proxy variables (boto3, requests, urllib,
# pip), in the tests or in the steps they start, gets a refused connection instead of the internet.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ[_name] = "http://127.0.0.1:9"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = "127.0.0.1,localhost"
os.environ.setdefault("OMP_NUM_THREADS", "1")


# Tiers that run only when asked for by their marker (`-m hardening`, `-m conformance`), so `make test` stays fast.
OPT_IN_MARKERS = ("hardening", "conformance")


def pytest_collection_modifyitems(config, items):
    """Tests of an opt-in tier run only when the marker expression names it."""
    asked = config.getoption("markexpr") or ""
    for marker in OPT_IN_MARKERS:
        if marker in asked:
            continue
        skipped = [item for item in items if item.get_closest_marker(marker)]
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = [item for item in items if not item.get_closest_marker(marker)]


@pytest.fixture(scope="session")
def lending_club() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="session")
def lending_split(lending_club):
    """Cleaned lending_club split into (schema, train, validation, test), as the steps do it."""
    from tasks.classifier import cleaning, features, schema

    cleaned, _ = cleaning.clean(lending_club, "Class")
    sch = schema.infer(cleaned, "Class", "bad", ["rownames"])
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, seed=42)
    return sch, train, validation, test


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, lending_split) -> Path:
    """A real artifact directory (model.joblib + metadata.json) trained on lending_club."""
    from tasks.classifier import artifact, features, modeling
    from tasks.classifier.training import TrainParams

    sch, train, validation, test = lending_split
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams(n_estimators=60, stage_size=20))
    directory = tmp_path_factory.mktemp("model")
    artifact.save(directory, fitted.pipeline, sch, fitted.threshold, test.head(3))
    return directory


@pytest.fixture(scope="session")
def cached_runs(tmp_path_factory):
    """Three local runs of penguins in one work dir (tests/local_runs.py): (work dir, [(summary, run dir)])."""
    from tests.local_runs import penguin_runs

    from localrun.controlplane import daemon

    work = tmp_path_factory.mktemp("cache")
    try:
        yield work, penguin_runs(work)
    finally:
        daemon.stop(work / "controlplane")  # the runs registered and deployed: the endpoint goes with its control plane
