"""boto3 clients for the registry: AWS when no endpoint URL is given, the local control plane otherwise.

The backend changes nothing but `endpoint_url`: every request, shape and error is the same.
A local control plane checks no signature, so when no credentials are configured for it we
sign with placeholders rather than fail; against AWS, missing credentials stay an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from common.errors import ConfigError

ENDPOINT_ENV = "SAGEMAKER_ENDPOINT_URL"
LOCAL_REGION = "us-east-1"
PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def resolve_endpoint_url(given: str | None = None) -> str | None:
    """The parameter, else SAGEMAKER_ENDPOINT_URL; empty means AWS itself."""
    url = given if given else os.environ.get(ENDPOINT_ENV, "")
    return url.rstrip("/") or None


@dataclass
class Clients:
    """Lazily created clients sharing one session, endpoint URL, region and retry policy."""

    endpoint_url: str | None
    region: str
    max_attempts: int = 5
    _session: Any = None
    _made: dict[str, Any] = field(default_factory=dict)

    def _client(self, service: str) -> Any:
        if service not in self._made:
            import boto3
            from botocore.config import Config

            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region)
            credentials = {}
            if self.endpoint_url and self._session.get_credentials() is None:
                credentials = PLACEHOLDER_CREDENTIALS
            self._made[service] = self._session.client(
                service, endpoint_url=self.endpoint_url,
                config=Config(retries={"total_max_attempts": self.max_attempts, "mode": "standard"}),
                **credentials,
            )
        return self._made[service]

    @property
    def sagemaker(self) -> Any:
        return self._client("sagemaker")

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def autoscaling(self) -> Any:
        return self._client("application-autoscaling")


def make_clients(endpoint_url: str | None = None, region: str | None = None, max_attempts: int = 5) -> Clients:
    url = resolve_endpoint_url(endpoint_url)
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or (LOCAL_REGION if url else None)
    if not region:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION (needed when talking to AWS itself)")
    return Clients(url, region, max_attempts)
