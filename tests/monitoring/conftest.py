"""The lending_club features (no id, no target) and one seeded split into baseline and new data."""

from __future__ import annotations

import pytest

from monitoring_splits import features_of, random_split


@pytest.fixture(scope="session")
def lending_features(lending_club):
    return features_of(lending_club)


@pytest.fixture(scope="session")
def lending_baseline(lending_features):
    """(statistics, constraints, new data) from one seeded 70/30 split."""
    from monitoring import baseline

    train, new = random_split(lending_features, seed=7)
    stats = baseline.statistics(train)
    return stats, baseline.constraints(train, stats=stats), new
