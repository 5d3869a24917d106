"""Seeded synthetic hourly server-utilisation series, for scale tests and benchmarks.

Each server has a level, a daily cycle (busy by day, with its own phase), a weekend dip, a
slow trend, autocorrelated noise and rare spikes, clipped to 0-100 %. Some rows are missing
(single points, short outages, and a few long ones); about 1 % of servers are flat (a stuck
metric) and about 1 % die part-way (utilisation 0 from then on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def generate(n_series: int, days: int = 60, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """Long frame (series, timestamp, value) of `n_series` hourly servers over `days` days."""
    rng = np.random.default_rng(seed)
    n, T = n_series, days * 24
    hours = np.arange(T)
    hour_of_day = hours % 24
    weekend = ((hours // 24 + pd.Timestamp(start).day_of_week) % 7 >= 5).astype(float)

    level = rng.uniform(15, 60, n)[:, None]
    daily_amplitude = rng.uniform(3, 20, n)[:, None]
    phase = rng.normal(0, 2, n)[:, None]
    weekend_dip = rng.uniform(0.0, 0.35, n)[:, None]
    slope = rng.normal(0, 8, n)[:, None] / T  # change over the whole window, in points
    angle = 2 * np.pi * (hour_of_day[None, :] - 14 - phase) / 24
    daily = daily_amplitude * (np.cos(angle) + 0.3 * np.cos(2 * angle))
    signal = (level + slope * hours[None, :] + daily) * (1 - weekend_dip * weekend[None, :])

    noise_scale = rng.uniform(0.8, 4.0, n)[:, None]
    shocks = rng.normal(0, 1, (n, T)) * noise_scale
    noise = np.empty((n, T))
    noise[:, 0] = shocks[:, 0]
    for t in range(1, T):  # AR(1), phi 0.5: load that lingers for a few hours
        noise[:, t] = 0.5 * noise[:, t - 1] + shocks[:, t]
    spikes = (rng.random((n, T)) < 0.002) * rng.uniform(15, 40, (n, T))
    values = np.clip(signal + noise + spikes, 0, 100)

    special = rng.permutation(n)
    n_special = max(1, n // 100) if n >= 20 else 0
    flat, dead = special[:n_special], special[n_special : 2 * n_special]
    values[flat] = np.round(rng.uniform(1, 50, len(flat)), 1)[:, None]
    for row in dead:
        values[row, rng.integers(T // 2, max(T // 2 + 1, T - 48)) :] = 0.0

    keep = rng.random((n, T)) >= 0.01  # single missing points
    for row in np.flatnonzero(rng.random(n) < 0.05):  # short outages
        begin = rng.integers(0, T - 6)
        keep[row, begin : begin + rng.integers(2, 6)] = False
    for row in np.flatnonzero(rng.random(n) < 0.01):  # long outages, left as gaps by cleaning
        begin = rng.integers(min(24, T // 4), max(T // 2, 25))
        keep[row, begin : begin + rng.integers(24, 72)] = False
    keep[:, -1] = True  # every server reports at the end, so all share one grid end

    width = len(str(n))
    ids = np.array([f"srv-{i:0{width}d}" for i in range(n)])
    rows, cols = np.nonzero(keep)
    stamps = pd.date_range(start, periods=T, freq="h")
    return pd.DataFrame({
        "series": ids[rows],
        "timestamp": stamps[cols],
        "value": values[rows, cols].round(3),
    })
