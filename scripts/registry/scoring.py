"""Scoring a model artifact on test rows with the gate's metric: one small function per task.

`score(model_dir, test_rows) -> float` is the whole interface; the register step uses it to put
the challenger and the champion on the same rows. Other tasks add their own function here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from common.errors import DataError

NOT_A_NUMBER = float("nan")


def score(model_dir: Path, test_rows: pd.DataFrame) -> float:
    """The tabular model's gate metric, as its evaluation computed it (tasks.classifier.evaluation.gate_metric):
    ROC AUC of P(positive) (binary), one-vs-rest macro AUC (multi-class), skill against the model's own
    training mean (regression: 1 - RMSE / RMSE of that mean); NaN where undefined (one class)."""
    from tasks.classifier import artifact
    from tasks.classifier.evaluation import gate_metric

    model = artifact.load(model_dir)
    target = model.schema.target
    if target not in test_rows.columns:
        raise DataError(f"test rows have no target column '{target}'; columns are {list(test_rows.columns)}")
    y_true = model.schema.encode_target(test_rows[target]).to_numpy()
    value = gate_metric(model)[1](y_true, model.predict(test_rows))
    return float(value) if math.isfinite(value) else NOT_A_NUMBER


def as_number(value: Any) -> float:
    """A gate value as JSON carries it (a number, null, or "NaN") as a float."""
    if value is None:
        return NOT_A_NUMBER
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NOT_A_NUMBER
    return number if math.isfinite(number) else NOT_A_NUMBER


def gate_section(evaluation: dict, source: str) -> dict:
    """The task-neutral gate section of evaluation.json; older files without one fall back to the AUC."""
    gate = evaluation.get("gate")
    if gate is None:
        try:
            value = evaluation["binary_classification_metrics"]["auc"]["value"]
        except (KeyError, TypeError):
            raise DataError(f"{source}: no 'gate' section and no binary_classification_metrics.auc.value") from None
        gate = {"metric": "auc", "value": value, "higher_is_better": True, "baseline": None}
    if not isinstance(gate, dict) or "metric" not in gate or "value" not in gate:
        raise DataError(f"{source}: 'gate' needs 'metric' and 'value', got {gate!r}")
    return {
        "metric": str(gate["metric"]),
        "value": as_number(gate["value"]),
        "higher_is_better": bool(gate.get("higher_is_better", True)),
        "baseline": gate.get("baseline"),
    }
