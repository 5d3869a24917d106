"""Compare a batch of data with a baseline: Model Monitor violations and a per-feature drift table.

Checks, in AWS's `constraint_violations.json` vocabulary: missing_column_check, extra_column_check,
data_type_check, completeness_check, categorical_values_check, baseline_drift_check.
Distances per feature: population stability index (PSI, which decides), Jensen-Shannon distance
(base 2, in [0, 1]) and L-infinity (the largest CDF gap, AWS's own comparison), on decile bins of
the baseline for numbers, on the baseline's categories plus "other" for strings.

A random sample of unchanged data has a PSI above zero by chance alone, about (bins - 1) x
(1/rows + 1/baseline rows) on average; a feature drifts when its PSI exceeds the threshold plus
that noise floor, so small batches do not raise false alarms. Defaults come from the calibration
in tests/monitoring/test_monitoring_calibration.py.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from common.errors import DataError
from . import baseline as bl

DECILES = np.linspace(0.1, 0.9, 9)
SMOOTHING = 0.5  # added to every bin's count: an empty bin has a finite log-ratio
OTHER = "__other__"


@dataclass(frozen=True)
class Thresholds:
    """When a check fails. None: take the value from the constraints' monitoring_config."""

    psi: float | None = None  # numeric, text and datetime features
    categorical_psi: float | None = None
    datatype: float | None = None  # share of present values of the baseline's type
    domain_content: float | None = None  # share of present values inside a categorical domain
    completeness_z: float = 4.0  # standard errors of sampling noise allowed below baseline completeness
    completeness_margin: float = 0.0  # and an absolute allowance on top
    min_rows: int = 100  # fewer present values than this: distances are shown, never judged

    def resolved(self, constraints: dict) -> "Thresholds":
        config = constraints.get("monitoring_config", {})
        defaults = bl.DEFAULT_MONITORING_CONFIG
        distribution = {**defaults["distribution_constraints"], **config.get("distribution_constraints", {})}
        pick = lambda mine, theirs: float(theirs if mine is None else mine)  # noqa: E731
        return Thresholds(
            psi=pick(self.psi, distribution["psi_threshold"]),
            categorical_psi=pick(self.categorical_psi, distribution["categorical_psi_threshold"]),
            datatype=pick(self.datatype, config.get("datatype_check_threshold", defaults["datatype_check_threshold"])),
            domain_content=pick(
                self.domain_content, config.get("domain_content_threshold", defaults["domain_content_threshold"])
            ),
            completeness_z=self.completeness_z,
            completeness_margin=self.completeness_margin,
            min_rows=self.min_rows,
        )


@dataclass
class DriftResult:
    violations: list[dict[str, str]]
    table: pd.DataFrame  # one row per baseline feature
    item_count: int
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def has_violations(self) -> bool:
        return bool(self.violations)

    def constraint_violations(self) -> dict[str, Any]:
        """constraint_violations.json, as a Model Monitor execution writes it."""
        return {"violations": self.violations}

    def table_records(self) -> list[dict[str, Any]]:
        """The table as JSON-safe records (NaN -> None)."""
        return [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in self.table.to_dict(orient="records")
        ]


# ---- distances -------------------------------------------------------------------------------

def _distances(base_counts: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """(PSI, Jensen-Shannon distance, L-infinity) of two histograms over the same ordered bins."""
    p = (base_counts + SMOOTHING) / (base_counts.sum() + SMOOTHING * len(base_counts))
    q = (counts + SMOOTHING) / (counts.sum() + SMOOTHING * len(counts))
    psi = float(np.sum((q - p) * np.log(q / p)))
    m = (p + q) / 2
    js = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    linf = float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))
    return psi, float(np.sqrt(max(js, 0.0))), linf


def _noise_floor(bins: int, rows: int, base_rows: int) -> float:
    """Expected PSI between two samples of one distribution (chi-square approximation)."""
    if rows == 0 or base_rows == 0:
        return 0.0
    return (bins - 1) * (1.0 / rows + 1.0 / base_rows)


def _numeric_histograms(numerical: dict, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the baseline (from its quantile sketch) and of `values` in the baseline's decile bins."""
    sketch = np.asarray(numerical["distribution"]["kll"]["sketch"]["data"][0], dtype=float)
    n_base = numerical["common"]["num_present"]
    edges = np.unique(np.quantile(sketch, DECILES, method="inverted_cdf"))
    # share of the baseline at or below each edge, read off the evenly spaced quantiles
    cdf = np.clip((np.searchsorted(sketch, edges, side="right") - 1) / (len(sketch) - 1), 0.0, 1.0)
    base_share = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return base_share * n_base, counts.astype(float)


def _categorical_histograms(buckets: list[dict], num_present: int, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    categories = [b["value"] for b in buckets]
    base = np.array([b["count"] for b in buckets] + [max(num_present - sum(b["count"] for b in buckets), 0)], float)
    observed = values.value_counts()
    counts = observed.reindex(categories, fill_value=0).to_numpy(dtype=float)
    other = float(observed.sum() - counts.sum())
    return base, np.append(counts, other)


# ---- checks per role -------------------------------------------------------------------------

@dataclass
class _Row:
    feature: str
    role: str
    inferred_type: str
    baseline_rows: int
    rows: int = 0
    baseline_completeness: float = float("nan")
    completeness: float = float("nan")
    psi: float = float("nan")
    js: float = float("nan")
    linf: float = float("nan")
    noise_floor: float = float("nan")
    threshold: float = float("nan")
    failed: list[str] = field(default_factory=list)
    detail: str = ""


def _violation(violations: list, row: _Row, check: str, description: str) -> None:
    violations.append({"feature_name": row.feature, "constraint_check_type": check, "description": description})
    row.failed.append(check)


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _drift(violations, row: _Row, base_counts, counts, th: Thresholds, threshold: float, what: str = "") -> None:
    psi, js, linf = _distances(base_counts, counts)
    noise = _noise_floor(len(base_counts), int(counts.sum()), int(round(base_counts.sum())))
    row.psi, row.js, row.linf, row.noise_floor, row.threshold = psi, js, linf, noise, threshold
    if counts.sum() < th.min_rows:
        row.detail = "; ".join(filter(None, [row.detail, f"fewer than {th.min_rows} values: drift not judged"]))
        return
    if psi > threshold + noise:
        _violation(
            violations, row, "baseline_drift_check",
            f"Baseline drift distance{what}: population stability index {psi:.4f} exceeds threshold "
            f"{threshold} + sampling noise {noise:.4f} (Jensen-Shannon {js:.4f}, L-infinity {linf:.4f})",
        )


def _check_numeric(violations, row: _Row, feature: dict, constraint: dict, series: pd.Series, th: Thresholds,
                   compare: bool) -> None:
    present = series.dropna()
    numbers = bl.as_numbers(present)
    readable = numbers.dropna()
    expected = constraint.get("inferred_type", feature["inferred_type"])
    matching = readable if expected == "Fractional" else readable[readable == np.round(readable)]
    share = len(matching) / len(present) if len(present) else 1.0
    if share < th.datatype:
        _violation(
            violations, row, "data_type_check",
            f"Data type match requirement is not met. Expected data type: {expected}, Expected match: "
            f"{_percent(th.datatype)}. Observed: Only {_percent(share)} of data is {expected}.",
        )
    values = readable.to_numpy(dtype=float)
    if constraint.get("num_constraints", {}).get("is_non_negative") and (values < 0).any():
        _violation(
            violations, row, "data_type_check",
            f"Data is not non-negative: {int((values < 0).sum())} negative values, minimum {values.min():g}",
        )
    stats = feature["numerical_statistics"]
    if compare and len(values) and "distribution" in stats:
        _drift(violations, row, *_numeric_histograms(stats, values), th, th.psi)


def _check_categorical(violations, row, feature, constraint, series, th, compare) -> None:
    strings = bl.present_strings(series)
    domain = constraint.get("string_constraints", {}).get("domains")
    if domain is not None and len(strings):
        counts = strings.value_counts()
        known = counts.index.isin(list(domain))
        share = float(counts[known].sum() / counts.sum())
        if share < th.domain_content:
            unknown = counts[~known].head(5)
            listed = ", ".join(f"'{v}' ({n})" for v, n in unknown.items())
            _violation(
                violations, row, "categorical_values_check",
                f"Data does not meet the categorical values requirement. Expected: {_percent(th.domain_content)} "
                f"of values in the baseline domain, Observed: {_percent(share)}; values outside it: {listed}",
            )
    stats = feature["string_statistics"]
    buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets", [])
    if compare and len(strings) and buckets:
        _drift(violations, row, *_categorical_histograms(buckets, stats["common"]["num_present"], strings),
               th, th.categorical_psi)


def _check_text(violations, row, feature, constraint, series, th, compare) -> None:
    if not compare:
        return
    strings = bl.present_strings(series)
    text = feature["text_statistics"]
    if not len(strings):
        return
    lengths = strings.str.len().to_numpy(dtype=float)
    length_base, length_counts = _numeric_histograms(text["length"], lengths)
    token_series = pd.Series([t for s in strings for t in bl.tokens(s)], dtype=object)
    token_base, token_counts = _categorical_histograms(text["top_tokens"], text["token_total"], token_series)
    length_psi = _distances(length_base, length_counts)[0]
    token_psi = _distances(token_base, token_counts)[0]
    share_unseen = token_counts[-1] / max(token_counts.sum(), 1)
    row.detail = f"length PSI {length_psi:.4f}, vocabulary PSI {token_psi:.4f}, tokens outside top vocabulary {_percent(share_unseen)}"
    # the worse of the two decides; its noise floor comes with it
    if length_psi >= token_psi:
        _drift(violations, row, length_base, length_counts, th, th.psi, " of text length")
    else:
        _drift(violations, row, token_base, token_counts, th, th.psi, " of vocabulary")


def _check_datetime(violations, row, feature, constraint, series, th, compare) -> None:
    present = series.dropna()
    stamps = bl.as_datetimes(present).dropna()
    share = len(stamps) / len(present) if len(present) else 1.0
    if share < th.datatype:
        _violation(
            violations, row, "data_type_check",
            f"Data type match requirement is not met. Expected data type: datetime, Expected match: "
            f"{_percent(th.datatype)}. Observed: Only {_percent(share)} of data reads as a date.",
        )
    stats = feature.get("datetime_statistics") or {}
    if not len(stamps) or not stats:
        return
    base_max = pd.Timestamp(stats["max"])
    row.detail = (
        f"range {stamps.min().date()} .. {stamps.max().date()} (baseline {pd.Timestamp(stats['min']).date()} .. "
        f"{base_max.date()}); newest is {(stamps.max() - base_max).total_seconds() / 86400:+.1f} days from the "
        f"baseline's newest; {_percent(float((stamps < pd.Timestamp(stats['min'])).mean()))} older than the baseline"
    )
    if compare:
        # weekly rhythm, not the calendar: new data is newer by nature
        base = np.array(stats["day_of_week_shares"]) * feature["string_statistics"]["common"]["num_present"]
        counts = np.bincount(stamps.dt.day_of_week.to_numpy(), minlength=7).astype(float)
        _drift(violations, row, base, counts, th, th.psi, " of day of week")


CHECKS = {"numeric": _check_numeric, "categorical": _check_categorical, "text": _check_text, "datetime": _check_datetime}


def _role(feature: dict) -> str:
    if "role" in feature:
        return feature["role"]
    return "numeric" if "numerical_statistics" in feature else "categorical"


def _comparison_enabled(constraints: dict, constraint: dict) -> bool:
    config = constraints.get("monitoring_config", {})
    overrides = constraint.get("monitoringConfigOverrides") or constraint.get("monitoring_config_overrides") or {}
    if config.get("evaluate_constraints", "Enabled") == "Disabled":
        return False
    merged = {**config.get("distribution_constraints", {}), **overrides.get("distribution_constraints", {})}
    return merged.get("perform_comparison", "Enabled") != "Disabled"


def check(df: pd.DataFrame, statistics: dict, constraints: dict, thresholds: Thresholds | None = None) -> DriftResult:
    """Every check of every baseline feature against `df`; columns the baseline lacks are violations too."""
    th = (thresholds or Thresholds()).resolved(constraints)
    by_name = {c["name"]: c for c in constraints.get("features", [])}
    violations: list[dict[str, str]] = []
    rows: list[_Row] = []
    baseline_names = [f["name"] for f in statistics["features"]]
    for feature in statistics["features"]:
        name, constraint = feature["name"], by_name.get(feature["name"], {})
        section = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        row = _Row(name, _role(feature), feature["inferred_type"], int(section.get("common", {}).get("num_present", 0)))
        rows.append(row)
        row.baseline_completeness = float(constraint.get("completeness", float("nan")))
        if name not in df.columns:
            _violation(violations, row, "missing_column_check",
                       f"There are missing columns in current dataset: '{name}' is in the baseline but not in the data")
            continue
        series = df[name]
        row.rows = int(series.notna().sum())
        row.completeness = float(series.notna().mean()) if len(series) else float("nan")
        _check_completeness(violations, row, len(series), th)
        CHECKS[row.role](violations, row, feature, constraint, series, th, _comparison_enabled(constraints, constraint))
    extra = [c for c in df.columns if c not in set(baseline_names)]
    for name in extra:
        violations.append({
            "feature_name": name, "constraint_check_type": "extra_column_check",
            "description": f"There are extra columns in current dataset: '{name}' is not in the baseline",
        })
    table = pd.DataFrame([_table_row(r) for r in rows])
    return DriftResult(violations, table, int(len(df)), th)


def _check_completeness(violations, row: _Row, total: int, th: Thresholds) -> None:
    expected = row.baseline_completeness
    if not total or not math.isfinite(expected):
        return
    noise = th.completeness_z * math.sqrt(expected * (1 - expected) / total)
    if row.completeness < expected - noise - th.completeness_margin:
        _violation(
            violations, row, "completeness_check",
            f"Data completeness requirement is not met. Expected: {_percent(expected)}, Observed: "
            f"{_percent(row.completeness)} (allowed sampling noise {_percent(noise + th.completeness_margin)})",
        )


def _table_row(row: _Row) -> dict[str, Any]:
    return {
        "feature": row.feature, "role": row.role, "inferred_type": row.inferred_type,
        "status": "flagged" if row.failed else "ok", "failed_checks": ",".join(dict.fromkeys(row.failed)),
        "baseline_rows": row.baseline_rows, "rows": row.rows,
        "baseline_completeness": round(row.baseline_completeness, 6), "completeness": round(row.completeness, 6),
        "psi": round(row.psi, 6), "js": round(row.js, 6), "linf": round(row.linf, 6),
        "noise_floor": round(row.noise_floor, 6), "threshold": row.threshold, "detail": row.detail,
    }


# ---- endpoint data capture -------------------------------------------------------------------

def _payload(record: dict, line_no: int) -> tuple[str, str]:
    try:
        captured = record["captureData"]["endpointInput"]
        data, encoding = captured["data"], captured.get("encoding", "CSV").upper()
        content_type = captured.get("observedContentType", "")
    except (KeyError, TypeError):
        raise DataError(f"capture line {line_no}: no captureData.endpointInput.data") from None
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise DataError(f"capture line {line_no}: endpointInput.data is not base64 of UTF-8 text") from None
        encoding = "JSON" if "json" in content_type.lower() else "CSV"
    if encoding not in ("CSV", "JSON"):
        raise DataError(f"capture line {line_no}: unsupported encoding '{encoding}' (CSV, JSON or BASE64)")
    return encoding, data


def _json_rows(payload: Any, columns: list[str], line_no: int) -> list[dict]:
    if isinstance(payload, dict) and "instances" in payload:
        payload = payload["instances"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise DataError(f"capture line {line_no}: JSON input is neither a record, a list nor {{'instances': [...]}}")
    rows = []
    for item in payload:
        if isinstance(item, dict):
            rows.append(item)
        elif isinstance(item, list) and len(item) == len(columns):
            rows.append(dict(zip(columns, item)))
        else:
            raise DataError(f"capture line {line_no}: a JSON row has {len(item) if isinstance(item, list) else 'no'} "
                            f"fields; expected a record or a list of {len(columns)}")
    return rows


def _headerless(lines: list[str], columns: list[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO("\n".join(lines)), header=None, names=columns, index_col=False,
                           skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise DataError(f"captured CSV rows do not have {len(columns)} fields: {exc}") from None


def read_capture(lines: Iterable[str | bytes], columns: list[str]) -> pd.DataFrame:
    """Requests captured by an endpoint (JSON lines, SageMaker's data-capture format) as one table.

    CSV payloads are headerless rows in `columns` order, or start with a header naming every one of
    `columns` (in any order, as the server accepts them: their other columns are kept and reported);
    JSON payloads are records, lists of `columns` values, or {"instances": [...]}. CSV rows come
    first, in capture order, then JSON rows.
    """
    csv_frames: list[pd.DataFrame] = []
    pending: list[str] = []  # headerless rows not yet parsed, in capture order
    records: list[dict] = []
    for line_no, line in enumerate(lines, start=1):
        line = line.decode("utf-8") if isinstance(line, bytes) else line
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"capture line {line_no}: not JSON ({exc.msg})") from None
        encoding, data = _payload(record, line_no)
        if encoding == "CSV":
            rows = [r for r in data.splitlines() if r.strip()]
            first = next(csv.reader([rows[0]]), []) if rows else []
            if not set(columns) <= {field.strip() for field in first}:
                pending.extend(rows)
                continue
            if pending:  # a header naming every baseline column: this payload is parsed by its own header
                csv_frames.append(_headerless(pending, columns))
                pending = []
            for row_no, fields in enumerate(csv.reader(rows[1:]), start=2):
                if len(fields) != len(first):
                    raise DataError(f"capture line {line_no}: CSV rows do not match their header: row {row_no} "
                                    f"has {len(fields)} fields, the header {len(first)}")
            csv_frames.append(pd.read_csv(io.StringIO("\n".join(rows)), skipinitialspace=True, index_col=False))
        else:
            try:
                records.extend(_json_rows(json.loads(data), columns, line_no))
            except json.JSONDecodeError as exc:
                raise DataError(f"capture line {line_no}: endpointInput.data is not JSON ({exc.msg})") from None
    if pending:
        csv_frames.append(_headerless(pending, columns))
    frames = csv_frames + ([pd.DataFrame.from_records(records)] if records else [])
    if not frames:
        raise DataError("no captured requests in the capture files")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
