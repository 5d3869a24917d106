"""Seeded random splits of the lending_club features, shared by the monitoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

ID, TARGET = "rownames", "Class"


def features_of(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[ID, TARGET])


def random_split(df: pd.DataFrame, seed: int, baseline_fraction: float = 0.7) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(df))
    cut = int(baseline_fraction * len(df))
    return df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)
