"""Where SageMaker puts things inside a job's container.

Every path derives from one base directory, `SAGEMAKER_BASE_DIR` (default `/opt/ml`),
read at call time rather than import time, so that tests move the whole tree with one
variable and importing this module has no side effects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from common import storage
from common.errors import ConfigError

DEFAULT_BASE_DIR = "/opt/ml"


def base_dir() -> Path:
    return Path(os.environ.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR)


# Training jobs (and serving): /opt/ml/{input/config,input/data,model,output,checkpoints}
def training_config_dir() -> Path:
    return base_dir() / "input" / "config"


def training_data_dir() -> Path:
    return base_dir() / "input" / "data"


def model_dir() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR") or base_dir() / "model")


def output_dir() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DIR") or base_dir() / "output")


def output_data_dir() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DATA_DIR") or output_dir() / "data")


def failure_file() -> Path:
    """Training: SageMaker shows the first 1,024 characters as FailureReason."""
    return output_dir() / "failure"


# Processing jobs: config lives in /opt/ml/config (not input/config), data in /opt/ml/processing
def processing_config_dir() -> Path:
    return base_dir() / "config"


def processing_dir() -> Path:
    return base_dir() / "processing"


def message_file() -> Path:
    """Processing: SageMaker reads the job's failure message from here."""
    return base_dir() / "output" / "message"


def read_json_file(path: Path) -> Any | None:
    """The parsed JSON file, or None when it does not exist; malformed JSON names the file."""
    return storage.read_json(path)


def read_json_env(name: str) -> Any | None:
    """A JSON-valued environment variable such as SM_HPS, or None when unset."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"environment variable {name}: not valid JSON ({exc.msg})") from None
