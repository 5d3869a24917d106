"""Clients of an in-process control plane and a status wait, shared by the control plane tests
(a module of its own: `conftest` names clash between test folders)."""

from __future__ import annotations

import time

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=120)


def client(service: str, url: str, **config):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=CLIENT_CONFIG.merge(Config(**config)),
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def wait_status(sm, name: str, wanted: str = "InService", timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = sm.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] == wanted:
            return answer
        if answer["EndpointStatus"] == "Failed" or time.monotonic() > deadline:
            raise AssertionError(f"endpoint {name}: {answer['EndpointStatus']} {answer.get('FailureReason')}")
        time.sleep(0.1)
