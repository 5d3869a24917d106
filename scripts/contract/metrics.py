"""Metrics on stdout in one stable form, for SageMaker metric definitions and tuning jobs.

    METRIC validation:auc=0.873214

An estimator's `metric_definitions=[metric_definition("validation:auc")]` picks them up.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf)"


def log_metric(name: str, value: float) -> None:
    text = "nan" if math.isnan(value) else f"{value:.6f}"
    print(f"METRIC {name}={text}", flush=True)


def metric_definition(name: str) -> dict[str, str]:
    return {"Name": name, "Regex": f"METRIC {re.escape(name)}=({_NUMBER})"}
