#!/usr/bin/env python3
"""Processing step: model.tar.gz + test split -> evaluation.json (Model Monitor format + a gate section).

Inputs `model` (the training job's model.tar.gz) and `test` (raw rows). Output `evaluation`:
evaluation.json (pipeline.evaluation_file), gated on by the pipeline's ConditionStep.
"""

import tempfile
from pathlib import Path

from common.errors import DataError
from contract import log_metric, modeltar, processing_job, run_processing
from pipeline import evaluation_file
from pipeline.spec import CLASSIFIER
from tasks.classifier import artifact, channels
from tasks.classifier.evaluation import binary_classification_report

STEP = CLASSIFIER.step("evaluation")


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
    archive = modeltar.find_model_archive(job.input(STEP.input("model").name))
    test = channels.read_split(job.input(STEP.input("test").name))
    with tempfile.TemporaryDirectory() as tmp:
        model = artifact.load(modeltar.extract(archive, Path(tmp)))
    schema = model.schema
    if schema.target not in test.columns:
        raise DataError(f"input 'test' has no target column '{schema.target}'; columns are {list(test.columns)}")
    report = binary_classification_report(
        schema.encode_target(test[schema.target]), model.predict_proba(test), model.threshold,
        labels=(schema.negative_label, schema.positive_label), seed=params["seed"],
    )
    auc = report["binary_classification_metrics"]["auc"]["value"]
    report["gate"] = evaluation_file.gate_section("auc", auc if isinstance(auc, float) else None, baseline=0.5)
    report["model_sha256"] = model.metadata["model_sha256"]
    evaluation_file.write(job.output(STEP.output("evaluation").name), report)
    log_metric("test:auc", auc if isinstance(auc, float) else float("nan"))
    print(f"evaluation: test AUC {auc} on {len(test)} rows")


if __name__ == "__main__":
    run_processing(main)
