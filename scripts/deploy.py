#!/usr/bin/env python3
"""Processing step: the group's latest Approved package (or a named version) onto an endpoint.

First time: CreateModel + CreateEndpointConfig (data capture on) + CreateEndpoint. After that:
a new Model and EndpointConfig and a blue/green UpdateEndpoint (traffic shifted ALL_AT_ONCE,
CANARY or LINEAR; CloudWatch alarms roll it back), then the old Model and config are deleted.
Refuses a package that is not Approved or whose artifact does not match its SHA-256.

In the pipeline it reads register's decision (input `registration`): when the endpoint already
serves the latest Approved package (this run's challenger was not approved, or is the champion
already), it changes nothing; when the group has nothing Approved yet, it deploys nothing. Either
way the run goes on: a challenger that is not approved is a result, not a failure.
Output `deployment`: deployment.json. Never cached: it has side effects.
"""

import json
import tempfile
from pathlib import Path

from contract import ConfigError, DataError, processing_job, run_processing
from common.storage import write_json
from pipeline.spec import CLASSIFIER, DECISION_FILE, DEPLOYMENT_FILE
from registry import deployment
from registry.client import make_clients, resolve_endpoint_url

LOCAL_ROLE = "arn:aws:iam::000000000000:role/local-sagemaker"  # the local control plane assumes no role

STEP = CLASSIFIER.step("deploy")


def read_decision(job) -> dict | None:
    """register's decision.json when the step runs in the pipeline; None when run on its own."""
    try:
        folder = job.input(STEP.input("registration").name)
    except ConfigError:
        return None
    path = folder / DECISION_FILE
    if not path.is_file():
        raise DataError(f"input 'registration' has no {DECISION_FILE} ({path})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def unchanged(endpoint: dict, package: dict, reason: str, url: str | None) -> dict:
    return {"endpoint_name": endpoint["EndpointName"], "endpoint_arn": endpoint.get("EndpointArn"),
            "status": endpoint["EndpointStatus"], "action": "unchanged", "reason": reason,
            "endpoint_config_name": endpoint.get("EndpointConfigName"),
            "model_package_arn": package["ModelPackageArn"], "model_package_version": package.get("ModelPackageVersion"),
            "url": url}


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
    url = resolve_endpoint_url(params["endpoint_url"])
    if params["backend"] == "local" and not url:
        raise ConfigError("backend 'local' needs --endpoint-url or SAGEMAKER_ENDPOINT_URL (the local control plane)")
    role = params["role_arn"] or (LOCAL_ROLE if url else "")
    if not role:
        raise ConfigError("hyperparameter 'role_arn' is required on AWS: the role the endpoint's Model runs as")
    if params["max_instances"] < params["min_instances"]:
        raise ConfigError(f"max_instances {params['max_instances']} is below min_instances {params['min_instances']}")
    settings = deployment.DeploySettings(
        endpoint_name=params["endpoint_name"], role_arn=role,
        instance_type=params["instance_type"], instance_count=params["instance_count"],
        capture_percentage=params["capture_percentage"], capture_destination=params["capture_destination"],
        ab_weight=params["ab_weight"], traffic=params["traffic"], step_percent=params["step_percent"],
        wait_interval=params["wait_interval"], termination_wait=params["termination_wait"],
        alarms=tuple(params["alarms"]), min_instances=params["min_instances"], max_instances=params["max_instances"],
        invocations_per_instance=params["invocations_per_instance"], timeout=params["timeout"], poll=params["poll"],
    )
    clients = make_clients(url, params["region"] or None)
    group, name = params["model_package_group"], params["endpoint_name"]
    decision = read_decision(job)
    output = job.output(STEP.output("deployment").name) / DEPLOYMENT_FILE
    named = params["model_package_version"] or None
    try:
        package = deployment.approved_package(clients.sagemaker, group, named)
    except ConfigError as exc:
        if decision is None or named:
            raise
        record = {"endpoint_name": name, "action": "none", "status": None, "url": None,
                  "reason": f"{exc}; register decided {decision.get('status')}: {decision.get('reason')}"}
        write_json(output, record)
        print(f"deploy: nothing deployed: {record['reason']}")
        return
    ab = deployment.approved_package(clients.sagemaker, group, params["ab_version"]) if params["ab_version"] else None
    existing = deployment.describe_endpoint(clients.sagemaker, name)
    if (decision is not None and ab is None and existing is not None and existing["EndpointStatus"] == "InService"
            and deployment.serves(clients.sagemaker, existing, package)):
        reason = (f"endpoint {name} already serves {package['ModelPackageArn']}, the latest Approved; "
                  f"this run's model is {decision.get('status')}: {decision.get('reason')}")
        record = unchanged(existing, package, reason, deployment.invocations_url(clients, name))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            record = deployment.deploy(clients, package, settings, Path(tmp), ab_package=ab)
    write_json(output, record)
    print(f"deploy: endpoint {record['endpoint_name']} {record['action']}, {record['status']}, "
          f"serving {record['model_package_arn']}")


if __name__ == "__main__":
    run_processing(main)
