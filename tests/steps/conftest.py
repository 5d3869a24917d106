"""Step scripts run as SageMaker runs them: a process per host, in its own /opt/ml tree."""

from __future__ import annotations

import pytest

from localrun.engines import ProcessEngine
from localrun.runner import LocalSession
from localrun.trees import Input, Step
from tests.conftest import DATA


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
    clean = session.run(Step(
        "clean", "processing", "clean.py", inputs={"raw": Input(raw)}, outputs=["cleaned"],
        arguments={"target": "Class", "positive_label": "bad", "id_columns": "rownames"},
    ))
    feature = session.run(Step(
        "feature", "processing", "feature.py", inputs={"cleaned": Input(clean.outputs["cleaned"])},
        outputs=["train", "validation", "test", "preprocessor"],
    ))
    return {"clean": clean, **feature.outputs}
