"""A seeded wide table for scale tests and benchmarks: many numeric columns, few of them informative.

`wide(20_000, 300)` is the shape issue 15 names (its GradientBoosting fit took 527 s). The target is
binary: a logistic draw on a linear score of 12 columns plus two interactions and a threshold
effect, so trees have something to find and the achievable AUC is well below 1 (about 0.85).
Every 50th value of a few columns is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INFORMATIVE = 12


def wide(rows: int = 20_000, columns: int = 300, seed: int = 0, target: str = "y") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns)).astype(np.float64)
    weights = rng.normal(0, 0.6, INFORMATIVE)
    score = X[:, :INFORMATIVE] @ weights + 0.8 * X[:, 0] * X[:, 1] - 0.7 * (X[:, 2] > 0.5) + 0.5 * X[:, 3] ** 2 - 0.5
    label = rng.random(rows) < 1 / (1 + np.exp(-score))
    frame = pd.DataFrame(X.round(4), columns=[f"x{i:03d}" for i in range(columns)])
    for j in range(0, min(columns, 20), 5):  # a few columns with gaps: the imputer's missing indicators
        frame.iloc[::50, j] = np.nan
    frame[target] = np.where(label, "yes", "no")
    return frame
