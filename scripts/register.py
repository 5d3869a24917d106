#!/usr/bin/env python3
"""Processing step: the trained model into the model registry, through the approval gate.

Inputs `model` (model.tar.gz), `evaluation` (evaluation.json, with its `gate` section) and `test`
(the rows evaluation scored). Output `registration`: decision.json (status, reason, both scores,
the package ARN and version) and, when a champion was re-scored, comparison_report.html (the two
side by side on the same rows). Talks to SageMaker (or the local control plane at --endpoint-url).
Never cached: it has side effects.
"""

import json
import tempfile
from pathlib import Path

from contract import ConfigError, DataError, processing_job, run_processing
from contract import modeltar
from common.storage import read_tables, sha256_file, write_bytes, write_json
from pipeline.spec import BASELINE_FILES, CLASSIFIER, COMPARISON_REPORT, DECISION_FILE
from registry import artifacts
from registry.client import make_clients, resolve_endpoint_url
from registry.registration import CHAMPION_DIR, Registration, json_safe, register

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


def comparison_report(archive: Path, champion_model: Path, registration: Registration, decision: dict, workdir: Path) -> str:
    """evaluation_report.html's page with the champion beside the challenger, both scored on the test rows
    the gate used: what a person looks at before approving a package that waits for them."""
    from reporting import classifier as classifier_report
    from tasks.classifier import artifact

    challenger = artifact.load(modeltar.extract(archive, workdir))
    champion = artifact.load(champion_model)
    schema, rows = challenger.schema, registration.test_rows
    return classifier_report.render_model(
        challenger, schema.encode_target(rows[schema.target]).to_numpy(), challenger.predict(rows), registration.evaluation,
        champion={"name": f"champion v{decision['champion']['version']}", "scores": champion.predict(rows),
                  "threshold": champion.threshold},
        champion_roles=champion.schema.roles)


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
    out = job.output(STEP.output("registration").name)
    with tempfile.TemporaryDirectory() as tmp:
        decision = register(clients_for(params), registration, Path(tmp))
        champion_model = Path(tmp) / CHAMPION_DIR / "model"
        if (decision.get("champion") or {}).get("rescored") and champion_model.is_dir():
            page = comparison_report(archive, champion_model, registration, decision, Path(tmp) / "challenger")
            write_bytes(out / COMPARISON_REPORT, page.encode("utf-8"))
    write_json(out / DECISION_FILE, json_safe(decision))
    print(f"register: {decision['status']} {decision['model_package_arn']}: {decision['reason']}")


if __name__ == "__main__":
    run_processing(main)
