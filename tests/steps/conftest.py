"""Step scripts run as SageMaker runs them: a process per host, in its own /opt/ml tree."""

from __future__ import annotations

import pytest

from localrun.engines import ProcessEngine
from localrun.jobs import Job
from localrun.runner import LocalSession
from pipeline.spec import CLASSIFIER
from tests.conftest import DATA


def job(step: str, inputs: dict, arguments: dict | None = None, instance_count: int | None = None, distribution=None) -> Job:
    """A job of the classifier pipeline's step, as the spec declares it."""
    declared = CLASSIFIER.step(step)
    return Job(declared.with_distribution(distribution) if distribution else declared, inputs, arguments or {}, instance_count)


@pytest.fixture(scope="session")
def engine():
    return ProcessEngine()


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, engine):
    """clean + feature on lending_club, once: the outputs later steps consume."""
    run_dir = tmp_path_factory.mktemp("prepared")
    session = LocalSession(run_dir, engine)
    raw = run_dir / "s3" / "raw"
    raw.mkdir(parents=True)
    (raw / DATA.name).write_bytes(DATA.read_bytes())
    clean = session.run(job("clean", {"raw": raw}, {"target": "Class", "positive_label": "bad", "id_columns": "rownames"}))
    feature = session.run(job("feature", {"cleaned": clean.outputs["cleaned"]}))
    return {"clean": clean, **feature.outputs}
