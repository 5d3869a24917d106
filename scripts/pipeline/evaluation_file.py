"""evaluation.json: written by the evaluation step, read by the gate, the register step and the runner.

Whatever the task, it carries a `gate` section at a fixed path, so the pipeline's ConditionStep
(JsonGet `gate.value`) is compiled before any data is seen:

    "gate": {"metric": "auc", "value": 0.74, "higher_is_better": true, "baseline": {...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import storage
from common.errors import DataError

from .spec import EVALUATION_FILE, GATE_JSON_PATH


def gate_section(metric: str, value: float | None, higher_is_better: bool = True, baseline: Any = None) -> dict:
    return {"metric": metric, "value": value, "higher_is_better": higher_is_better, "baseline": baseline}


def write(directory: Path, report: dict) -> Path:
    if "gate" not in report:
        raise ValueError("an evaluation report needs a gate section (pipeline.evaluation_file.gate_section)")
    path = Path(directory) / EVALUATION_FILE
    storage.write_json(path, report)
    return path


def read(directory: Path) -> dict:
    path = Path(directory) / EVALUATION_FILE
    report = storage.read_json(path)
    if report is None:
        raise DataError(f"{path} not found: is it the evaluation step's output?")
    return report


def json_get(report: dict, path: str = GATE_JSON_PATH) -> Any:
    """What SageMaker's JsonGet returns for a dotted path (the ConditionStep's reading)."""
    value: Any = report
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise DataError(f"{EVALUATION_FILE} has no '{path}' (stopped at '{key}')")
        value = value[key]
    return value
