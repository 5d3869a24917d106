"""Column roles: what each column is, inferred from the cleaned rows with the evidence, or declared.

Roles: numeric, categorical, high_cardinality (frequency-encoded), text (TF-IDF), datetime
(calendar and elapsed-time features), identifier and constant (both excluded from the features).
A leakage suspect is a feature that alone predicts the target almost perfectly: reported, and
refused when the caller asks (`leakage="refuse"`). Every threshold below is written into the
report beside the evidence, so a reader can see why a column got its role.

Precedence: declared parameters, then the roles file the user keeps, then inference. Declared
roles are checked against the data: a datetime column that does not parse fails naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from common.errors import ConfigError, DataError

NUMERIC, CATEGORICAL, HIGH_CARDINALITY, TEXT, DATETIME, IDENTIFIER, CONSTANT = (
    "numeric", "categorical", "high_cardinality", "text", "datetime", "identifier", "constant")
ROLES = (NUMERIC, CATEGORICAL, HIGH_CARDINALITY, TEXT, DATETIME, IDENTIFIER, CONSTANT)
FEATURE_ROLES = (NUMERIC, CATEGORICAL, HIGH_CARDINALITY, TEXT, DATETIME)
EXCLUDED_ROLES = (IDENTIFIER, CONSTANT)
STRING_ROLES = (CATEGORICAL, HIGH_CARDINALITY, TEXT, DATETIME)  # what serving receives as text

# The thresholds, each reported by name and value (`thresholds()`).
IDENTIFIER_MIN_ROWS = 100  # below this many present values no column is called an identifier
IDENTIFIER_UNIQUE_SHARE = 0.99  # distinct / present at or above: an identifier (integer-like or string)
MONOTONIC_UNIQUE_SHARE = 0.95  # a strictly increasing integer column this unique: a row counter
UUID_SHARE = 0.95  # share of values shaped like a UUID
HIGH_CARDINALITY_DISTINCT = 100  # a category column with more distinct values: frequency-encoded
TEXT_MIN_MEDIAN_TOKENS = 3  # words per value (median) from which a string column is text
TEXT_MIN_DISTINCT_SHARE = 0.2  # and at least this share of distinct values (multi-word categories are not text)
DATETIME_PARSE_SHARE = 0.95  # share of distinct values that parse as dates (and look like dates)
LEAKAGE_SCORE = 0.99  # one column alone, out of fold: AUC (classes) or R^2 (numbers) at or above
LEAKAGE_SAMPLE_ROWS = 20_000  # rows the leakage check looks at (a seeded sample beyond that)
LEAKAGE_BINS = 64  # quantile bins of one column (a tree of 64 leaves' resolution)
LEAKAGE_SMOOTHING = 20  # rows of the overall mean mixed into each bin's (a leaf of at least 20 rows)
SAMPLE_DISTINCT = 2_000  # distinct values inspected for text/date shape

_UUID = re.compile(r"^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$")
_DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}T")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)  # a word has letters: "2022-03-04" is no text


def thresholds() -> dict[str, float]:
    return {
        "identifier_min_rows": IDENTIFIER_MIN_ROWS,
        "identifier_unique_share": IDENTIFIER_UNIQUE_SHARE,
        "monotonic_integer_unique_share": MONOTONIC_UNIQUE_SHARE,
        "uuid_share": UUID_SHARE,
        "high_cardinality_distinct": HIGH_CARDINALITY_DISTINCT,
        "text_min_median_tokens": TEXT_MIN_MEDIAN_TOKENS,
        "text_min_distinct_share": TEXT_MIN_DISTINCT_SHARE,
        "datetime_parse_share": DATETIME_PARSE_SHARE,
        "leakage_score": LEAKAGE_SCORE,
        "leakage_sample_rows": LEAKAGE_SAMPLE_ROWS,
    }


@dataclass
class Roles:
    """Each non-target column's role, with the evidence and the warnings the report shows."""

    roles: dict[str, str]
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    leakage_suspects: list[str] = field(default_factory=list)

    def of(self, role: str) -> list[str]:
        return [c for c, r in self.roles.items() if r == role]

    def report(self) -> dict[str, Any]:
        return {
            "roles": dict(self.roles),
            "evidence": self.evidence,
            "thresholds": thresholds(),
            "warnings": list(self.warnings),
            "leakage_suspects": list(self.leakage_suspects),
        }

    def table(self) -> str:
        """One line per column, for the job log."""
        width = max((len(c) for c in self.roles), default=6)
        lines = [f"{'column':<{width}}  {'role':<16}  why"]
        for column, role in self.roles.items():
            ev = self.evidence.get(column, {})
            suspect = "  LEAKAGE SUSPECT" if column in self.leakage_suspects else ""
            lines.append(f"{column:<{width}}  {role:<16}  {ev.get('source', '')}: {ev.get('why', '')}{suspect}")
        return "\n".join(lines)


def read_roles_file(text: str, source: str = "roles") -> dict[str, str]:
    """A roles file: {"column": "role", ...}, clean's report's `roles` section, or the roles step's roles.json."""
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    while isinstance(data, dict) and isinstance(data.get("roles"), dict):  # clean's report, the roles step's roles.json
        data = data["roles"]
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f'{source}: expected an object of column names and roles, e.g. {{"review": "text"}}')
    bad = {k: v for k, v in data.items() if v not in ROLES}
    if bad:
        column, role = next(iter(bad.items()))
        raise ConfigError(f"{source}: column '{column}' has role '{role}'; roles are {list(ROLES)}")
    return dict(data)


def declared_roles(
    *, id_columns: Sequence[str] = (), numeric: Sequence[str] = (), categorical: Sequence[str] = (),
    text: Sequence[str] = (), datetime: Sequence[str] = (), roles_file: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Parameters over the roles file; a column named by two parameters is an error naming it."""
    declared: dict[str, str] = {}
    for role, columns in ((IDENTIFIER, id_columns), (NUMERIC, numeric), (CATEGORICAL, categorical),
                          (TEXT, text), (DATETIME, datetime)):
        for column in columns:
            if column in declared and declared[column] != role:
                raise ConfigError(f"column '{column}' is declared both {declared[column]} and {role}")
            declared[column] = role
    return {**dict(roles_file or {}), **declared}


# ---- evidence per column -----------------------------------------------------------------------
def _integer_like(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if pd.api.types.is_float_dtype(values):  # integers read with missing values become floats
        present = values.dropna().to_numpy()
        return bool(len(present)) and bool(np.all(present == np.round(present)))
    return False


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _sample_distinct(present: pd.Series) -> pd.Series:
    uniques = pd.Series(present.unique())
    return uniques.sample(SAMPLE_DISTINCT, random_state=0) if len(uniques) > SAMPLE_DISTINCT else uniques


_EARLIEST, _LATEST = np.datetime64("1678-01-01", "us"), np.datetime64("2261-12-31", "us")


def parse_dates(values: pd.Series) -> pd.Series:
    """Text -> UTC-naive datetime64 (NaT where missing or unreadable); each distinct text parsed once."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.DatetimeIndex(values)
        stamps = stamps.tz_convert("UTC").tz_localize(None) if stamps.tz is not None else stamps
        return pd.Series(stamps.astype("datetime64[ns]"), index=values.index)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Index(uniques, dtype=object).astype(str), errors="coerce", utc=True, format="mixed")
    stamps = parsed.tz_localize(None).to_numpy().astype("datetime64[us]")
    stamps[(stamps < _EARLIEST) | (stamps > _LATEST)] = np.datetime64("NaT")  # beyond nanosecond range: unreadable
    table = np.append(stamps.astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(table[codes], index=values.index)  # code -1 (missing) takes the NaT at the end


def _date_share(distinct: pd.Series) -> float:
    texts = distinct.astype(str)
    shaped = texts.str.contains(_DATE_SHAPE)
    if not shaped.any():
        return 0.0
    parsed = parse_dates(texts[shaped]).notna()
    return float(parsed.sum() / len(texts))


def _evidence(values: pd.Series, keep: bool) -> tuple[str, dict[str, Any]]:
    """The inferred role of one column and why; `keep`: a declared feature, never identifier or constant."""
    present = values.dropna()
    n = len(present)
    distinct = int(present.nunique())
    ev: dict[str, Any] = {"present": n, "missing": int(len(values) - n), "distinct": distinct,
                          "distinct_share": round(distinct / n, 4) if n else 0.0}
    numeric = _is_numeric(values)
    if not keep and (n == 0 or (distinct == 1 and ev["missing"] == 0)):
        return CONSTANT, {**ev, "why": "no values" if n == 0 else f"one value ({present.iloc[0]!r}) in every row"}
    if numeric:
        integer = _integer_like(values)
        ev["integer_like"] = integer
        if not keep and integer and n >= IDENTIFIER_MIN_ROWS:
            monotonic = bool(present.is_monotonic_increasing and present.is_unique)
            ev["monotonic"] = monotonic
            if ev["distinct_share"] >= IDENTIFIER_UNIQUE_SHARE:
                return IDENTIFIER, {**ev, "why": f"integers, {ev['distinct_share']:.1%} distinct"}
            if monotonic and ev["distinct_share"] >= MONOTONIC_UNIQUE_SHARE:
                return IDENTIFIER, {**ev, "why": "strictly increasing integers (a row counter)"}
        return NUMERIC, {**ev, "why": "numbers" + ("" if integer else " (fractional: never an identifier)")}
    if pd.api.types.is_datetime64_any_dtype(values):
        return DATETIME, {**ev, "why": "a timestamp type"}
    texts = present.astype(str)
    sample = _sample_distinct(texts)
    if not keep and len(sample):  # before text: a UUID's hex groups read as five words
        ev["uuid_share"] = round(float(sample.str.match(_UUID).mean()), 4)
        if ev["uuid_share"] >= UUID_SHARE:
            return IDENTIFIER, {**ev, "why": f"{ev['uuid_share']:.1%} of values shaped like UUIDs"}
    ev["date_share"] = round(_date_share(sample), 4) if len(sample) else 0.0
    if ev["date_share"] >= DATETIME_PARSE_SHARE:
        return DATETIME, {**ev, "why": f"{ev['date_share']:.1%} of distinct values read as dates"}
    tokens = sample.str.count(_WORD)
    ev["median_tokens"] = float(tokens.median()) if len(tokens) else 0.0
    if ev["median_tokens"] >= TEXT_MIN_MEDIAN_TOKENS and ev["distinct_share"] >= TEXT_MIN_DISTINCT_SHARE:
        return TEXT, {**ev, "why": f"{ev['median_tokens']:g} words per value (median), {ev['distinct_share']:.1%} distinct"}
    if not keep and n >= IDENTIFIER_MIN_ROWS:
        if ev["distinct_share"] >= IDENTIFIER_UNIQUE_SHARE:
            return IDENTIFIER, {**ev, "why": f"{ev['distinct_share']:.1%} of values distinct"}
    if distinct > HIGH_CARDINALITY_DISTINCT:
        return HIGH_CARDINALITY, {**ev, "why": f"{distinct} distinct values (over {HIGH_CARDINALITY_DISTINCT})"}
    return CATEGORICAL, {**ev, "why": f"{distinct} distinct values"}


def check_role(column: str, role: str, values: pd.Series, source: str = "declared") -> None:
    """A role this host's data contradicts fails here, naming the column. `source` says who set the
    role: "declared" (a parameter or the roles file) or "inferred by the roles step" (tasks.classifier.pinning)."""
    if role == DATETIME and not pd.api.types.is_datetime64_any_dtype(values) and values.notna().any():
        present = values.dropna()
        parsed = parse_dates(present.astype(str))
        share = float(parsed.notna().mean())
        if share < DATETIME_PARSE_SHARE:
            bad = present[parsed.isna().to_numpy()].astype(str).unique()[:5].tolist()
            raise DataError(f"column '{column}' is {source} datetime but {1 - share:.1%} of its values do not read "
                            f"as dates (at most {1 - DATETIME_PARSE_SHARE:.0%} may), e.g. {bad}")
    if role in (TEXT, CATEGORICAL, HIGH_CARDINALITY) and pd.api.types.is_bool_dtype(values):
        return
    if role == NUMERIC and not _is_numeric(values):
        examples = pd.unique(values.dropna().astype(str))[:5].tolist()
        raise DataError(f"column '{column}' is {source} numeric but its values are not numbers (dtype {values.dtype}), "
                        f"e.g. {examples}")


# ---- leakage -------------------------------------------------------------------------------------
def _leakage_target(target: pd.Series) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The target as the leakage check scores against it, prepared once for every column:
    (metric, outputs matrix (rows x 1 number, or one-hot classes), class codes or the numbers)."""
    if _is_numeric(target) and target.nunique() > 20:
        y = target.to_numpy(dtype=float)
        return "r2", y[:, None], y
    classes, codes, counts = np.unique(target.astype(str).to_numpy(), return_inverse=True, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        return None
    return ("auc" if len(classes) == 2 else "auc_ovr_macro"), np.eye(len(classes))[codes], codes


def _single_column_score(x: np.ndarray, prepared: tuple[str, np.ndarray, np.ndarray]) -> tuple[str, float]:
    """How well one encoded column alone predicts the target, out of fold (2 folds): the column cut into
    LEAKAGE_BINS quantile bins, each bin predicting its training fold's mean (smoothed toward the overall
    mean by LEAKAGE_SMOOTHING rows), as a small tree would, in numpy (300 columns in seconds, where
    fitting a tree per column and fold took 40 s)."""
    from sklearn.metrics import r2_score, roc_auc_score

    metric, outputs, y = prepared
    edges = np.unique(np.quantile(x, np.linspace(0, 1, LEAKAGE_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, x, side="right")
    fold = np.random.default_rng(0).permutation(len(x)) % 2
    predicted = _out_of_fold_means(bins, outputs, fold, len(edges) + 1)
    if metric == "r2":
        return metric, float(r2_score(y, predicted[:, 0]))
    if metric == "auc":
        return metric, float(roc_auc_score(y, predicted[:, 1]))
    proba = predicted / predicted.sum(axis=1, keepdims=True)
    return metric, float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=np.arange(outputs.shape[1])))


def _out_of_fold_means(bins: np.ndarray, y: np.ndarray, fold: np.ndarray, n_bins: int) -> np.ndarray:
    """Each row's bin mean of `y` (rows x outputs) over the other fold's rows, smoothed toward its mean."""
    predicted = np.empty_like(y, dtype=float)
    for f in (0, 1):
        train, test = fold != f, fold == f
        counts = np.bincount(bins[train], minlength=n_bins).astype(float)
        prior = y[train].mean(axis=0)
        for k in range(y.shape[1]):
            sums = np.bincount(bins[train], weights=y[train, k], minlength=n_bins)
            means = (sums + LEAKAGE_SMOOTHING * prior[k]) / (counts + LEAKAGE_SMOOTHING)
            predicted[test, k] = means[bins[test]]
    return predicted


def _encoded(values: pd.Series, role: str) -> np.ndarray:
    if role == NUMERIC:
        return values.to_numpy(dtype=float, na_value=np.nan)
    if role == DATETIME:
        stamps = parse_dates(values)
        return np.where(stamps.isna(), np.nan, stamps.to_numpy().astype("datetime64[s]").astype(float))
    # categories: codes ordered by frequency, missing as its own code
    text = values.astype(object).where(values.notna(), "\x00missing")
    order = text.value_counts().index
    return pd.Series(text).map({v: i for i, v in enumerate(order)}).to_numpy(dtype=float)


def _leakage(df: pd.DataFrame, target: str, roles: dict[str, str], evidence: dict[str, dict]) -> list[str]:
    rows = df[df[target].notna()]
    if len(rows) > LEAKAGE_SAMPLE_ROWS:
        rows = rows.sample(LEAKAGE_SAMPLE_ROWS, random_state=0)
    suspects = []
    prepared = _leakage_target(rows[target])
    if prepared is None:
        return suspects
    for column, role in roles.items():
        if role not in FEATURE_ROLES:
            continue
        if role == TEXT:  # text is never a leakage suspect: reviews predict sentiment, as they should
            evidence[column]["leakage"] = "not assessed (text)"
            continue
        x = _encoded(rows[column], role)
        x = np.where(np.isnan(x), np.nanmin(x) - 1 if np.isfinite(x).any() else 0.0, x)  # missing: its own split
        metric, score = _single_column_score(x, prepared)
        evidence[column]["leakage_" + metric] = round(score, 4)
        if score >= LEAKAGE_SCORE:
            suspects.append(column)
    return suspects


# ---- the whole table -------------------------------------------------------------------------------
def infer(
    df: pd.DataFrame, target: str, declared: Mapping[str, str] | None = None,
    keep_features: Sequence[str] = (), leakage: str = "report",
) -> Roles:
    """Every non-target column's role: declared ones checked against the data, the rest inferred.

    `keep_features`: columns to keep as features even when they look like identifiers or constants.
    `leakage`: "report" lists suspects; "refuse" fails naming them (unless kept in `keep_features`).
    """
    declared = dict(declared or {})
    unknown = [c for c in [*declared, *keep_features] if c not in df.columns]
    if unknown:
        raise DataError(f"column(s) {unknown} not found; columns are {list(df.columns)}")
    if target in declared or target in keep_features:
        raise ConfigError(f"column '{target}' is the target; it cannot also be given a role")
    if leakage not in ("report", "refuse"):
        raise ConfigError(f"leakage: '{leakage}' is not one of ['report', 'refuse']")
    keep = set(keep_features)
    roles: dict[str, str] = {}
    evidence: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for column in df.columns:
        if column == target:
            continue
        if column in declared:
            role = declared[column]
            check_role(column, role, df[column])
            roles[column] = role
            evidence[column] = {"source": "declared", "why": "by a parameter or the roles file"}
            continue
        role, ev = _evidence(df[column], keep=column in keep)
        roles[column] = role
        evidence[column] = {"source": "kept as a feature" if column in keep else "inferred", **ev}
        if role == IDENTIFIER:
            warnings.append(f"column '{column}' looks like an identifier ({ev['why']}): excluded from the features; "
                            f"declare it a feature (FEATURES={column}, --feature-columns) to keep it")
        elif role == CONSTANT:
            warnings.append(f"column '{column}' is constant ({ev['why']}): dropped")
    if not any(r in FEATURE_ROLES for r in roles.values()):
        raise DataError(f"no feature columns left: every column besides the target '{target}' is an identifier or "
                        f"constant ({roles}); declare one a feature with --feature-columns")
    suspects = _leakage(df, target, roles, evidence)
    for column in suspects:
        score = {k: v for k, v in evidence[column].items() if k.startswith("leakage_")}
        warnings.append(f"column '{column}' alone predicts '{target}' almost perfectly ({score}, threshold "
                        f"{LEAKAGE_SCORE}): a leakage suspect")
    refused = [c for c in suspects if c not in keep]
    if leakage == "refuse" and refused:
        raise DataError(f"leakage suspects {refused}: each alone predicts '{target}' with a score at or above "
                        f"{LEAKAGE_SCORE} (out of fold); drop them, or keep one with --feature-columns")
    return Roles(roles, evidence, warnings, suspects)
