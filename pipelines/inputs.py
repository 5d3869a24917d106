"""What a definition is compiled with besides the spec: the account's values, with defaults.

Everything account-specific (role, bucket, image URIs, VPC, KMS keys, tags) arrives here, never as a
constant in the code that compiles. The same inputs, spec and code give the same definition bytes.
Standard library only: the CLI reads these before it imports the SDK.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from common.errors import ConfigError

# Placeholders, not anyone's account: a definition compiled with them is fine to read, diff and
# validate; `upsert` refuses them (pipelines.__main__).
PLACEHOLDER_ACCOUNT = "000000000000"
PLACEHOLDER_ROLE_ARN = f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/sagemaker-steps-execution"
PLACEHOLDER_BUCKET = f"sagemaker-steps-{PLACEHOLDER_ACCOUNT}"
# The images as `make build` tags them locally (containers/docker.mk); image-uris.json (written by
# the CodeBuild build, buildspec.yml) replaces them with the pushed ECR URIs.
LOCAL_IMAGE_URIS = {"process": "sagemaker-steps-process:latest", "train": "sagemaker-steps-train:latest"}
DEFAULT_IMAGE_URIS_FILE = "image-uris.json"

_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class CompileInputs:
    role_arn: str = PLACEHOLDER_ROLE_ARN
    # the endpoint Model's execution role (iam/serve.json), which deploy passes; default: role_arn
    model_role_arn: str | None = None
    bucket: str = PLACEHOLDER_BUCKET
    image_uris: Mapping[str, str] = field(default_factory=lambda: dict(LOCAL_IMAGE_URIS))
    # pipeline parameter defaults that differ from the spec's (e.g. InputData as an S3 URI)
    parameter_defaults: Mapping[str, Any] = field(default_factory=dict)
    processing_instance_type: str = "ml.m5.xlarge"
    training_instance_type: str = "ml.m5.xlarge"
    processing_max_runtime_seconds: int = 86400
    volume_size_gb: int = 30
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    volume_kms_key: str | None = None  # given: a VolumeKmsKeyId parameter with this default
    output_kms_key: str | None = None  # given: an OutputKmsKeyId parameter with this default
    network_isolation: bool = False  # the EnableNetworkIsolation parameter's default
    tags: tuple[tuple[str, str], ...] = ()
    cache_expire_after: str = "P30D"  # ISO 8601 duration
    region: str = "us-east-1"  # only for the SDK's offline session: no region is written into the definition

    def __post_init__(self) -> None:
        for role in (self.role_arn, self.model_role_arn):
            if role is not None and not _ROLE_ARN.match(role):
                raise ConfigError(f"role ARN {role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        if not _BUCKET.match(self.bucket):
            raise ConfigError(f"bucket {self.bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ConfigError("a VPC needs both subnets and security groups (give --subnet and --security-group together)")
        if not re.fullmatch(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?)?", self.cache_expire_after):
            raise ConfigError(f"cache expiry {self.cache_expire_after!r} is not an ISO 8601 duration such as P30D or PT12H")

    @property
    def placeholders(self) -> list[str]:
        """The values still at their placeholder: fine for a definition file, not for an account."""
        found = []
        if self.role_arn == PLACEHOLDER_ROLE_ARN:
            found.append(f"role ARN ({self.role_arn})")
        if self.bucket == PLACEHOLDER_BUCKET:
            found.append(f"bucket ({self.bucket})")
        found += [f"{role} image URI ({uri})" for role, uri in sorted(self.image_uris.items()) if LOCAL_IMAGE_URIS.get(role) == uri]
        return found


def read_image_uris(path: Path) -> dict[str, str]:
    """image-uris.json as the image build writes it: {"train": URI, "process": URI}."""
    try:
        uris = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (the image build writes it; see buildspec.yml)") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not JSON ({error})") from None
    if not isinstance(uris, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in uris.items()):
        raise ConfigError(f"{path}: expected an object of image role -> URI, such as {json.dumps(LOCAL_IMAGE_URIS)}")
    unknown = sorted(set(uris) - set(LOCAL_IMAGE_URIS))
    if unknown:
        raise ConfigError(f"{path}: unknown image role(s) {unknown}; known: {sorted(LOCAL_IMAGE_URIS)}")
    return {**LOCAL_IMAGE_URIS, **uris}


def default_image_uris(directory: Path) -> dict[str, str]:
    """The build's image-uris.json where it exists, else the local tags."""
    path = Path(directory) / DEFAULT_IMAGE_URIS_FILE
    return read_image_uris(path) if path.is_file() else dict(LOCAL_IMAGE_URIS)
