"""Model Monitor data-quality baselines: `statistics.json` and `constraints.json` from a DataFrame.

The formats are AWS's ("Schema for Statistics", "Schema for Constraints"); a bring-your-own
container may add fields, and we add what drift needs beyond them:
- numeric columns keep AWS's 10 equal-width `kll.buckets` and a quantile sketch in `kll.sketch.data`
  (QUANTILE_POINTS evenly spaced quantiles, from which drift bins are rebuilt);
- text columns add `text_statistics` (length in characters and tokens, vocabulary size, top tokens);
- datetime columns add `datetime_statistics` (range, recency, day-of-week and month shares).
Roles: numeric, categorical, text, datetime; a column missing from `roles` is inferred.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Mapping

import numpy as np
import pandas as pd

from common.errors import ConfigError

ROLES = ("numeric", "categorical", "text", "datetime")
HISTOGRAM_BUCKETS = 10  # AWS materialises 10 buckets and does not let you change it
QUANTILE_POINTS = 201  # sketch resolution: the CDF is known to 0.5%
MAX_DOMAIN = 50  # categorical domains are listed only for small cardinality, as AWS does
TOP_TOKENS = 500
MAX_BUCKETS = 1000  # categorical counts kept; the rest is "other" to drift
TOKEN = re.compile(r"\w+", re.UNICODE)

# AWS's monitoring_config defaults, except where our calibration (tests/monitoring) chose otherwise.
DEFAULT_MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 0.99,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
        # ours: population stability index above the sampling-noise floor (see drift.py)
        "psi_threshold": 0.1,
        "categorical_psi_threshold": 0.1,
    },
}


def infer_role(series: pd.Series) -> str:
    """numeric when every present value reads as a number, else categorical."""
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    present = series.dropna()
    try:  # fails at the first word, where errors="coerce" would read every value
        pd.to_numeric(present)
    except (ValueError, TypeError):
        return "categorical"
    return "numeric" if len(present) else "categorical"


def resolve_roles(df: pd.DataFrame, roles: Mapping[str, str] | None) -> dict[str, str]:
    roles = dict(roles or {})
    unknown = sorted(set(roles) - set(df.columns))
    if unknown:
        raise ConfigError(f"roles name columns the data does not have: {unknown}; columns are {list(df.columns)}")
    for column, role in roles.items():
        if role not in ROLES:
            raise ConfigError(f"role of column '{column}' is '{role}'; expected one of {list(ROLES)}")
    return {c: roles.get(c) or infer_role(df[c]) for c in df.columns}


def as_numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce") if not pd.api.types.is_numeric_dtype(series) else series.astype(float)


def as_datetimes(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series
    else:
        values = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    if getattr(values.dt, "tz", None) is None:
        values = values.dt.tz_localize("UTC")
    return values


def present_strings(series: pd.Series) -> pd.Series:
    """Present values as text: numbers read from CSV as floats keep their integer spelling."""
    present = series.dropna()
    if pd.api.types.is_float_dtype(present) and (present == np.round(present)).all():
        present = present.astype("int64")
    return present.astype(str)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def _number(value: float) -> float:
    return float(np.round(value, 10))


def _inferred_numeric_type(values: np.ndarray) -> str:
    return "Integral" if len(values) and np.all(values == np.round(values)) else "Fractional"


def inverted_cdf_quantiles(ordered: np.ndarray, points: np.ndarray) -> np.ndarray:
    """np.quantile(ordered, points, method="inverted_cdf") of sorted values: numpy partitions once per point,
    which on a million values and QUANTILE_POINTS points cost more than a sort. The positions are
    numpy's own rule (the smallest value whose empirical CDF reaches the point)."""
    index = len(ordered) * points - 1
    below = np.floor(index)
    positions = np.where(index - below == 0, below, below + 1).astype(np.intp)
    positions[positions < 0] += 1
    return ordered[np.minimum(positions, len(ordered) - 1)]


def sorted_histogram(ordered: np.ndarray, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """np.histogram(ordered, HISTOGRAM_BUCKETS, range=bounds) of sorted values within `bounds`, by binary search:
    numpy's bins hold edge <= value < next edge, the last one its upper edge too."""
    edges = np.histogram_bin_edges(ordered[:1], bins=HISTOGRAM_BUCKETS, range=bounds)
    ends = np.searchsorted(ordered, edges, side="left")
    ends[-1] = np.searchsorted(ordered, edges[-1], side="right")
    return np.diff(ends), edges


def _numerical_statistics(values: np.ndarray, missing: int) -> dict[str, Any]:
    common = {"num_present": int(len(values)), "num_missing": int(missing)}
    if not len(values):
        return {"common": common}
    ordered = np.sort(values)
    low, high = float(ordered[0]), float(ordered[-1])
    counts, edges = sorted_histogram(ordered, (low, high) if high > low else (low, low + 1))
    buckets = [
        {"lower_bound": _number(edges[i]), "upper_bound": _number(edges[i + 1]), "count": float(counts[i])}
        for i in range(HISTOGRAM_BUCKETS)
    ]
    quantiles = inverted_cdf_quantiles(ordered, np.linspace(0, 1, QUANTILE_POINTS))
    return {
        "common": common,
        "mean": _number(values.mean()),
        "sum": _number(values.sum()),
        "std_dev": _number(values.std()),
        "min": _number(low),
        "max": _number(high),
        "distribution": {
            "kll": {
                "buckets": buckets,
                # one level of evenly spaced quantiles: a KLL reader sees a compacted sample of the column
                "sketch": {"parameters": {"c": 0.64, "k": float(QUANTILE_POINTS)}, "data": [[_number(q) for q in quantiles]]},
            }
        },
    }


def _string_statistics(strings: pd.Series, missing: int) -> dict[str, Any]:
    counts = strings.value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_BUCKETS]
    return {
        "common": {"num_present": int(len(strings)), "num_missing": int(missing)},
        "distinct_count": float(len(counts)),
        "distribution": {"categorical": {"buckets": [{"value": v, "count": float(n)} for v, n in ordered]}},
    }


def _text_statistics(strings: pd.Series) -> dict[str, Any]:
    token_lists = [tokens(s) for s in strings]
    vocabulary = Counter(t for ts in token_lists for t in ts)
    lengths = np.array([len(s) for s in strings], dtype=float)
    token_counts = np.array([len(ts) for ts in token_lists], dtype=float)
    top = sorted(vocabulary.items(), key=lambda item: (-item[1], item[0]))[:TOP_TOKENS]
    return {
        "length": _numerical_statistics(lengths, 0),
        "token_count": _numerical_statistics(token_counts, 0),
        "vocabulary_size": int(len(vocabulary)),
        "token_total": int(sum(vocabulary.values())),
        "top_tokens": [{"value": t, "count": float(n)} for t, n in top],
    }


def _shares(values: pd.Series, categories: range) -> list[float]:
    counts = values.value_counts().reindex(list(categories), fill_value=0)
    total = counts.sum()
    return [_number(c / total) if total else 0.0 for c in counts]


def _datetime_statistics(stamps: pd.Series) -> dict[str, Any]:
    if not len(stamps):
        return {}
    return {
        "min": stamps.min().isoformat(),
        "max": stamps.max().isoformat(),
        "span_days": _number((stamps.max() - stamps.min()).total_seconds() / 86400),
        # how old the data is at its own newest row: median age, days
        "median_age_days": _number(((stamps.max() - stamps).dt.total_seconds() / 86400).median()),
        "day_of_week_shares": _shares(stamps.dt.day_of_week, range(7)),
        "month_shares": _shares(stamps.dt.month, range(1, 13)),
    }


def feature_statistics(name: str, series: pd.Series, role: str) -> dict[str, Any]:
    if role == "numeric":
        numbers = as_numbers(series)
        values = numbers.dropna().to_numpy(dtype=float)
        return {
            "name": name,
            "inferred_type": _inferred_numeric_type(values),
            "numerical_statistics": _numerical_statistics(values, int(numbers.isna().sum())),  # unreadable counts as missing
        }
    if role == "datetime":
        stamps = as_datetimes(series)
        present = stamps.dropna()
        feature = {"name": name, "inferred_type": "String"}
        feature["string_statistics"] = _string_statistics(present_strings(series[stamps.notna()]), int(stamps.isna().sum()))
        feature["string_statistics"]["distribution"] = {}  # a categorical count of timestamps says nothing
        feature["datetime_statistics"] = _datetime_statistics(present)
        return feature
    strings = present_strings(series)
    feature = {"name": name, "inferred_type": "String", "string_statistics": _string_statistics(strings, int(series.isna().sum()))}
    if role == "text":
        feature["string_statistics"]["distribution"] = {}  # every text is its own category
        feature["text_statistics"] = _text_statistics(strings)
    return feature


def statistics(df: pd.DataFrame, roles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """statistics.json for every column of `df` (drop ids and the target first)."""
    resolved = resolve_roles(df, roles)
    features = []
    for name in df.columns:
        feature = feature_statistics(name, df[name], resolved[name])
        feature["role"] = resolved[name]
        features.append(feature)
    return {"version": 0.0, "dataset": {"item_count": int(len(df))}, "features": features}


def constraints(df: pd.DataFrame, roles: Mapping[str, str] | None = None, stats: dict | None = None) -> dict[str, Any]:
    """constraints.json: types, completeness, non-negativity and small categorical domains, as AWS suggests them."""
    stats = stats or statistics(df, roles)
    features = []
    for feature in stats["features"]:
        section = feature.get("numerical_statistics") or feature["string_statistics"]
        common = section["common"]
        total = common["num_present"] + common["num_missing"]
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": _number(common["num_present"] / total) if total else 0.0,
            "role": feature["role"],
        }
        if "numerical_statistics" in feature:
            entry["num_constraints"] = {"is_non_negative": bool(section.get("min", 0.0) >= 0)}
        elif feature["role"] == "categorical" and section["distinct_count"] <= MAX_DOMAIN:
            values = [b["value"] for b in section["distribution"]["categorical"]["buckets"]]
            entry["string_constraints"] = {"domains": sorted(values)}
        features.append(entry)
    return {"version": 0.0, "features": features, "monitoring_config": _copy(DEFAULT_MONITORING_CONFIG)}


def _copy(config: dict) -> dict:
    return {k: (_copy(v) if isinstance(v, dict) else v) for k, v in config.items()}
