"""Calibration of the drift defaults: fresh random splits of the same data must raise no alarm.

50 seeded 70/30 splits of lending_club (baseline on 70%, the rest as "new" data), and the same with
only 500 new rows. The defaults in monitoring/baseline.py (PSI 0.1 above the noise floor, domain
content 0.99, completeness within 4 standard errors, type share 1.0) give 0 false alarms in both,
while the injected shifts of test_monitoring_drift.py are all caught. Run with -s to see the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring import baseline, drift
from monitoring_splits import random_split

SPLITS = 50


def measure(features: pd.DataFrame, new_rows: int | None) -> tuple[pd.DataFrame, list[int]]:
    """Per-feature PSI above the noise floor over SPLITS splits, and the seeds that raised any alarm."""
    excess, alarms = [], []
    for seed in range(SPLITS):
        train, new = random_split(features, seed)
        if new_rows:
            new = new.head(new_rows)
        stats = baseline.statistics(train)
        result = drift.check(new, stats, baseline.constraints(train, stats=stats))
        if result.violations:
            alarms.append(seed)
        excess.append(result.table.set_index("feature").eval("psi - noise_floor").rename(seed))
    return pd.concat(excess, axis=1), alarms


def _summary(excess: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"median": excess.median(axis=1), "p95": excess.quantile(0.95, axis=1),
                         "max": excess.max(axis=1)}).sort_values("max", ascending=False)


def test_fresh_splits_raise_no_alarm(lending_features):
    excess, alarms = measure(lending_features, None)
    print(f"\n{SPLITS} splits, {len(lending_features) - int(0.7 * len(lending_features))} new rows each: "
          f"false alarms {len(alarms)}/{SPLITS}")
    print(_summary(excess).round(4).head(8).to_string())
    assert alarms == []
    # the default threshold keeps a wide margin over what chance produces
    assert float(excess.max().max()) < 0.1 / 2


def test_fresh_small_batches_raise_no_alarm(lending_features):
    excess, alarms = measure(lending_features, 500)
    print(f"\n{SPLITS} splits, 500 new rows each: false alarms {len(alarms)}/{SPLITS}")
    print(_summary(excess).round(4).head(8).to_string())
    assert alarms == []
    assert float(excess.max().max()) < 0.1
