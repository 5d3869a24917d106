"""A few calls to the control plane's JSON API without boto3, for the command line."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse


class CallError(Exception):
    pass


def call(base_url: str, operation: str, params: dict | None = None, prefix: str = "SageMaker") -> dict:
    address = urlparse(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request("POST", "/", body=json.dumps(params or {}), headers={
            "X-Amz-Target": f"{prefix}.{operation}", "Content-Type": "application/x-amz-json-1.1"})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
    finally:
        connection.close()
    if response.status != 200:
        raise CallError(f"{operation}: {answer.get('__type')}: {answer.get('message')}")
    return answer


def endpoints(base_url: str) -> list[dict]:
    listed, token = [], None
    while True:
        page = call(base_url, "ListEndpoints", {"MaxResults": 100, **({"NextToken": token} if token else {})})
        listed += page["Endpoints"]
        token = page.get("NextToken")
        if not token:
            return listed


def tear_down(base_url: str, name: str) -> list[str]:
    """Delete an endpoint with its endpoint config, the config's models and their scaling targets;
    returns what was deleted. Models still used by another endpoint's config are kept."""
    endpoint = call(base_url, "DescribeEndpoint", {"EndpointName": name})
    config = call(base_url, "DescribeEndpointConfig", {"EndpointConfigName": endpoint["EndpointConfigName"]})
    deleted = []
    for variant in config["ProductionVariants"]:
        resource = f"endpoint/{name}/variant/{variant['VariantName']}"
        try:
            call(base_url, "DeregisterScalableTarget", {"ServiceNamespace": "sagemaker", "ResourceId": resource,
                 "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}, prefix="AnyScaleFrontendService")
            deleted.append(f"scalable target {resource}")
        except CallError:
            pass
    call(base_url, "DeleteEndpoint", {"EndpointName": name})
    deleted.append(f"endpoint {name}")
    call(base_url, "DeleteEndpointConfig", {"EndpointConfigName": config["EndpointConfigName"]})
    deleted.append(f"endpoint config {config['EndpointConfigName']}")
    in_use = set()
    for other in endpoints(base_url):
        other_config = call(base_url, "DescribeEndpoint", {"EndpointName": other["EndpointName"]})["EndpointConfigName"]
        try:
            described = call(base_url, "DescribeEndpointConfig", {"EndpointConfigName": other_config})
        except CallError:
            continue
        in_use |= {v["ModelName"] for v in described["ProductionVariants"]}
    for model in {v["ModelName"] for v in config["ProductionVariants"]} - in_use:
        try:
            call(base_url, "DeleteModel", {"ModelName": model})
            deleted.append(f"model {model}")
        except CallError:
            pass
    return deleted
