"""The classifier pipeline, clean -> feature -> train -> evaluation, as a SageMaker Pipeline runs it."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engines import Engine
from .endpoint import local_endpoint, score_rows
from .runner import LocalSession, StepFailed
from .trees import Input, Step


@dataclass
class PipelineConfig:
    data: Path
    target: str
    positive_label: str
    id_columns: list[str] = field(default_factory=list)
    clean_instances: int = 1
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def _stage_raw(data: Path, destination: Path) -> Path:
    """The raw data as an S3 prefix: a file, or every file of a folder."""
    destination.mkdir(parents=True, exist_ok=True)
    if data.is_dir():
        shutil.copytree(data, destination, dirs_exist_ok=True)
    else:
        shutil.copy2(data, destination / data.name)
    return destination


def _score_on_endpoint(session: LocalSession, engine: Engine, train, feature, rows: int = 5) -> list[dict]:
    """Serve the trained model as an endpoint would and score a few raw test rows through it."""
    import pandas as pd

    test = pd.read_parquet(next(feature.outputs["test"].glob("*.parquet")))
    schema = json.loads((feature.outputs["preprocessor"] / "schema.json").read_text())
    raw_rows = test.head(rows)[schema["numeric"] + schema["categorical"]]
    print(f"--- serve (model.tar.gz on a local endpoint, {rows} raw test rows)", flush=True)
    tree = session.run_dir / "jobs" / "serve" / "algo-1"
    try:
        with local_endpoint(engine, train.outputs["model"] / "model.tar.gz", tree) as url:
            predictions = score_rows(url, raw_rows)
    except RuntimeError as error:
        raise StepFailed("serve", "algo-1", 1, str(error)) from None
    for truth, prediction in zip(test.head(rows)[schema["target"]], predictions):
        print(f"  actual {truth!s:<8} predicted {json.dumps(prediction)}")
    return predictions


def run_pipeline(config: PipelineConfig, run_dir: Path, engine: Engine) -> dict[str, Any]:
    started = time.perf_counter()
    session = LocalSession(run_dir, engine)
    raw = _stage_raw(Path(config.data), session.s3 / "raw")
    clean = session.run(Step(
        "clean", "processing", "clean.py",
        inputs={"raw": Input(raw, sharded=True)}, outputs=["cleaned"],
        arguments={"target": config.target, "positive_label": config.positive_label, "id_columns": config.id_columns},
        instance_count=config.clean_instances,
    ))
    feature = session.run(Step(
        "feature", "processing", "feature.py",
        inputs={"cleaned": Input(clean.outputs["cleaned"])},
        outputs=["train", "validation", "test", "preprocessor"],
    ))
    train = session.run(Step(
        "train", "training", "train.py",
        inputs={name: Input(feature.outputs[name]) for name in ("train", "validation", "preprocessor")},
        arguments=config.hyperparameters,
    ))
    evaluation = session.run(Step(
        "evaluation", "processing", "evaluation.py",
        inputs={"model": Input(train.outputs["model"]), "test": Input(feature.outputs["test"])},
        outputs=["evaluation"],
    ))
    predictions = _score_on_endpoint(session, engine, train, feature)
    report = json.loads((evaluation.outputs["evaluation"] / "evaluation.json").read_text())
    metadata = json.loads((train.trees["algo-1"] / "model" / "metadata.json").read_text())
    summary = {
        "run_dir": str(run_dir),
        "test_auc": report["binary_classification_metrics"]["auc"]["value"],
        "validation_auc": metadata["metrics"]["validation_auc"],
        "validation_logloss": metadata["metrics"]["validation_logloss"],
        "threshold": metadata["threshold"],
        "trees": metadata["params"]["trees"],
        "outputs": {
            "cleaned": str(clean.outputs["cleaned"]),
            **{name: str(feature.outputs[name]) for name in ("train", "validation", "test", "preprocessor")},
            "model": str(train.outputs["model"] / "model.tar.gz"),
            "evaluation": str(evaluation.outputs["evaluation"] / "evaluation.json"),
        },
        "endpoint_predictions": predictions,
        "step_seconds": {r.step.name: round(r.seconds, 2) for r in (clean, feature, train, evaluation)},
    }
    summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
