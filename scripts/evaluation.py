#!/usr/bin/env python3
"""Processing step: model.tar.gz + test split -> evaluation.json (Model Monitor format).

Inputs `model` (the training job's model.tar.gz) and `test` (raw rows). Output `evaluation`:
evaluation.json, gated on by a ConditionStep with JsonGet("binary_classification_metrics.auc.value").
"""

import tempfile
from pathlib import Path

from contract import DataError, Param, log_metric, processing_job, run_processing
from contract import modeltar
from common.storage import read_tables, write_json
from tasks.classifier import artifact
from tasks.classifier.evaluation import binary_classification_report

PARAMS = {"seed": Param(int, 0, "seed of the standard-deviation samples")}


def main() -> None:
    job = processing_job()
    params = job.params(PARAMS)
    archive = modeltar.find_model_archive(job.input("model"))
    test = read_tables(job.input("test"))
    with tempfile.TemporaryDirectory() as tmp:
        model = artifact.load(modeltar.extract(archive, Path(tmp)))
    schema = model.schema
    if schema.target not in test.columns:
        raise DataError(f"input 'test' has no target column '{schema.target}'; columns are {list(test.columns)}")
    y_true = schema.encode_target(test[schema.target])
    report = binary_classification_report(
        y_true, model.predict_proba(test), model.threshold,
        labels=(schema.negative_label, schema.positive_label), seed=params["seed"],
    )
    report["model_sha256"] = model.metadata["model_sha256"]
    write_json(job.output("evaluation") / "evaluation.json", report)
    auc = report["binary_classification_metrics"]["auc"]["value"]
    log_metric("test:auc", auc if isinstance(auc, float) else float("nan"))
    print(f"evaluation: test AUC {auc} on {len(test)} rows")


if __name__ == "__main__":
    run_processing(main)
