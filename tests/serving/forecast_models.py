"""A small forecaster artifact for the serving tests: 6 synthetic hourly series, horizon 24."""

from __future__ import annotations

from pathlib import Path

from tasks.forecast import artifact, cleaning, model, split, synthetic

H = 24


def train_forecaster(directory: Path, seed: int):
    """The fitted model and the artifact saved in `directory`."""
    raw = synthetic.generate(6, days=21, seed=seed)
    long, _ = cleaning.clean(raw, freq="h", min_length=cleaning.min_length_for(H, 24))
    train, validation, _ = split.split(long, H)
    fitted = model.fit(train, validation, H, 24, freq="h")
    artifact.save(directory, fitted, {"series": "series", "time": "timestamp", "value": "value"})
    return fitted
