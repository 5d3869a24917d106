#!/usr/bin/env python3
"""Processing step: the group's latest Approved package (or a named version) onto an endpoint.

First time: CreateModel + CreateEndpointConfig (data capture on) + CreateEndpoint. After that:
a new Model and EndpointConfig and a blue/green UpdateEndpoint (traffic shifted ALL_AT_ONCE,
CANARY or LINEAR; CloudWatch alarms roll it back), then the old Model and config are deleted.
Refuses a package that is not Approved or whose artifact does not match its SHA-256.
Output `deployment`: deployment.json. Never cached: it has side effects.
"""

import tempfile
from pathlib import Path

from contract import ConfigError, Param, processing_job, run_processing
from common.storage import write_json
from registry import deployment
from registry.client import make_clients, resolve_endpoint_url

LOCAL_ROLE = "arn:aws:iam::000000000000:role/local-sagemaker"  # the local control plane assumes no role

PARAMS = {
    "model_package_group": Param(str, help="model package group to deploy from"),
    "endpoint_name": Param(str, help="endpoint to create or update"),
    "model_package_version": Param(int, 0, help="a named version; 0: the group's latest Approved", minimum=0),
    "role_arn": Param(str, "", help="execution role of the Model (required on AWS)"),
    "instance_type": Param(str, "ml.m5.large"),
    "instance_count": Param(int, 1, minimum=1),
    "capture_percentage": Param(int, 100, help="data capture sampling; 0 turns capture off", minimum=0, maximum=100),
    "capture_destination": Param(str, "", help="s3://bucket/prefix for captured requests and responses"),
    "ab_version": Param(int, 0, help="a second Approved version served beside it (A/B); 0: none", minimum=0),
    "ab_weight": Param(float, 0.1, help="traffic share of the A/B version", minimum=0.0, maximum=1.0),
    "traffic": Param(str, "ALL_AT_ONCE", help="blue/green traffic shift", choices=("ALL_AT_ONCE", "CANARY", "LINEAR")),
    "step_percent": Param(int, 10, help="canary size or linear step, percent of capacity", minimum=1, maximum=100),
    "wait_interval": Param(int, 300, help="seconds between traffic shifts", minimum=0, maximum=3600),
    "termination_wait": Param(int, 300, help="seconds the old fleet is kept for rollback", minimum=0, maximum=3600),
    "alarms": Param(list, [], help="CloudWatch alarm names that roll an update back"),
    "min_instances": Param(int, 1, minimum=1),
    "max_instances": Param(int, 1, help="autoscaling is set up when above min_instances", minimum=1),
    "invocations_per_instance": Param(float, 100.0, help="target of SageMakerVariantInvocationsPerInstance", minimum=1.0),
    "timeout": Param(int, 3600, help="seconds to wait for InService", minimum=1),
    "poll": Param(float, 15.0, help="seconds between DescribeEndpoint calls", minimum=0.0),
    "backend": Param(str, "", help="sagemaker (AWS) or local (the control plane at endpoint_url)", choices=("", "sagemaker", "local")),
    "endpoint_url": Param(str, "", help="SageMaker API endpoint URL; default SAGEMAKER_ENDPOINT_URL, empty: AWS"),
    "region": Param(str, ""),
}


def main() -> None:
    job = processing_job()
    params = job.params(PARAMS)
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
    group = params["model_package_group"]
    package = deployment.approved_package(clients.sagemaker, group, params["model_package_version"] or None)
    ab = deployment.approved_package(clients.sagemaker, group, params["ab_version"]) if params["ab_version"] else None
    with tempfile.TemporaryDirectory() as tmp:
        record = deployment.deploy(clients, package, settings, Path(tmp), ab_package=ab)
    write_json(job.output("deployment") / "deployment.json", record)
    print(f"deploy: endpoint {record['endpoint_name']} {record['action']}, {record['status']}, "
          f"serving {record['model_package_arn']}")


if __name__ == "__main__":
    run_processing(main)
