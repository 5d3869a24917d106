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

from contract import ConfigError, DataError, processing_job, run_processing
from contract import modeltar
from common.storage import read_tables, sha256_file, write_json
from pipeline.spec import BASELINE_FILES, CLASSIFIER, DECISION_FILE
from registry import artifacts
from registry.client import make_clients, resolve_endpoint_url
from registry.registration import Registration, json_safe, register

STEP = CLASSIFIER.step("register")


def clients_for(params: dict):
    url = resolve_endpoint_url(params["endpoint_url"])
    if params["backend"] == "local" and not url:
        raise ConfigError("backend 'local' needs --endpoint-url or SAGEMAKER_ENDPOINT_URL (the local control plane)")
    return make_clients(url, params["region"] or None)


def baseline_urls(job) -> tuple[str, str] | None:
    """The training split's statistics.json and constraints.json where they live (S3, or file://
    locally), for the package's data-quality and drift-check baselines; None without the input."""
    try:
        folder = job.input(STEP.input("baseline").name)
    except ConfigError:
        return None
    files = [folder / name for name in BASELINE_FILES]
    for path in files:
        if not path.is_file():
            raise DataError(f"input 'baseline' has no {path.name} ({path})")
    statistics, constraints = (job.input_uri("baseline", path) or artifacts.to_url(path) for path in files)
    return statistics, constraints


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
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
        baseline_urls=baseline_urls(job),
    )
    with tempfile.TemporaryDirectory() as tmp:
        decision = register(clients_for(params), registration, Path(tmp))
    write_json(job.output(STEP.output("registration").name) / DECISION_FILE, json_safe(decision))
    print(f"register: {decision['status']} {decision['model_package_arn']}: {decision['reason']}")


if __name__ == "__main__":
    run_processing(main)
