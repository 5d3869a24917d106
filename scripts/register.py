#!/usr/bin/env python3
"""Processing step: the trained model into the model registry, through the approval gate.

Inputs `model` (model.tar.gz), `evaluation` (evaluation.json, with its `gate` section) and `test`
(the rows evaluation scored). Output `registration`: decision.json (status, reason, both scores,
the package ARN and version). Talks to SageMaker (or the local control plane at --endpoint-url).
Never cached: it has side effects.
"""

import json
import tempfile
from pathlib import Path

from contract import ConfigError, DataError, Param, processing_job, run_processing
from contract import modeltar
from common.storage import read_tables, sha256_file, write_json
from registry import artifacts
from registry.client import make_clients, resolve_endpoint_url
from registry.registration import Registration, json_safe, register

PARAMS = {
    "model_package_group": Param(str, help="model package group (created when missing)"),
    "image_uri": Param(str, help="the serving image the package runs in"),
    "model_data_url": Param(str, "", help="where the artifact lives (s3:// or file://); default: the 'model' input's S3Uri"),
    "evaluation_url": Param(str, "", help="evaluation.json's S3 URI for ModelMetrics; default: the 'evaluation' input's"),
    "floor": Param(float, 0.6, help="the gate metric's floor (the pipeline's GateFloor)"),
    "margin": Param(float, 0.001, help="how much the challenger must beat the champion by, in the metric's units"),
    "auto_approve": Param(bool, True, help="approve automatically when the gate passes; false: always a person"),
    "backend": Param(str, "", help="sagemaker (AWS) or local (the control plane at endpoint_url)", choices=("", "sagemaker", "local")),
    "endpoint_url": Param(str, "", help="SageMaker API endpoint URL; default SAGEMAKER_ENDPOINT_URL, empty: AWS"),
    "region": Param(str, ""),
    "git_commit": Param(str, ""),
    "image_digest": Param(str, ""),
    "instance_types": Param(list, ["ml.m5.large"], help="SupportedRealtimeInferenceInstanceTypes"),
}


def clients_for(params: dict):
    url = resolve_endpoint_url(params["endpoint_url"])
    if params["backend"] == "local" and not url:
        raise ConfigError("backend 'local' needs --endpoint-url or SAGEMAKER_ENDPOINT_URL (the local control plane)")
    return make_clients(url, params["region"] or None)


def main() -> None:
    job = processing_job()
    params = job.params(PARAMS)
    archive = modeltar.find_model_archive(job.input("model"))
    evaluation_path = job.input("evaluation") / "evaluation.json"
    if not evaluation_path.is_file():
        raise DataError(f"input 'evaluation' has no evaluation.json ({evaluation_path})")
    try:
        evaluation = json.loads(evaluation_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{evaluation_path}: not valid JSON ({exc})") from None
    registration = Registration(
        group=params["model_package_group"],
        archive=archive,
        model_data_url=params["model_data_url"] or job.input_uri("model", archive) or artifacts.to_url(archive),
        image_uri=params["image_uri"],
        evaluation=evaluation,
        evaluation_source=str(evaluation_path),
        evaluation_url=params["evaluation_url"] or job.input_uri("evaluation", evaluation_path),
        evaluation_sha256=sha256_file(evaluation_path),
        test_rows=read_tables(job.input("test")),
        floor=params["floor"], margin=params["margin"], auto_approve=params["auto_approve"],
        git_commit=params["git_commit"], image_digest=params["image_digest"],
        instance_types=tuple(params["instance_types"]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        decision = register(clients_for(params), registration, Path(tmp))
    write_json(job.output("registration") / "decision.json", json_safe(decision))
    print(f"register: {decision['status']} {decision['model_package_arn']}: {decision['reason']}")


if __name__ == "__main__":
    run_processing(main)
