"""Column roles inferred once, before clean shards the input, and applied by every clean host.

The roles step (roles.py) reads every input file, one at a time, keeping a uniform seeded sample of
at most SAMPLE_ROWS rows (every row when the input is smaller: then the roles are exactly what a
single clean would infer) and the whole target column. On the sample it runs clean's own cleaning
and role inference (tasks.classifier.roles); the target's kind and labels come from the whole column,
so a class that no sampled row holds is still known. `pin` gives the roles file; every clean host
`apply`s it: the same columns in the same roles and one schema, so the hosts agree by construction,
and a host whose data contradicts a role fails naming the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from common.errors import DataError

from . import cleaning, roles as column_roles
from .schema import MISSING_TOKENS, Schema, infer as infer_schema

SAMPLE_ROWS = 200_000  # rows the roles are inferred on; the leakage check looks at LEAKAGE_SAMPLE_ROWS of them
SAMPLE_SEED = 0
PINNED_BY = "inferred by the roles step"  # how a contradicted role is named in a host's error


@dataclass
class Sample:
    rows: pd.DataFrame  # at most `limit` rows, in input order (file, then line)
    target: pd.Series  # every input row's target value, trimmed; missing values left out
    rows_read: int
    files: int
    limit: int
    seed: int

    def describe(self) -> dict[str, Any]:
        return {"rows_read": self.rows_read, "rows_sampled": len(self.rows), "files": self.files,
                "sample_rows": self.limit, "seed": self.seed,
                "rule": "a uniform random sample without replacement of every file's rows (all rows when there are "
                        "no more than sample_rows); the target's classes from every row"}


def _present_target(values: pd.Series) -> pd.Series:
    """The target as clean sees it: text trimmed, the missing-value tokens missing."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.dropna()
    text = values.astype("string").str.strip()
    return text[text.notna() & ~text.isin(MISSING_TOKENS)].astype(object)


def _shape(rows: Any) -> tuple[int, list[str]]:
    table = getattr(rows, "table", None)  # cleaning.read's pyarrow rows, else a DataFrame
    return (len(rows), list(rows.columns)) if table is None else (table.num_rows, table.column_names)


def _take(rows: Any, lines: np.ndarray) -> pd.DataFrame:
    """Some rows as a DataFrame: from pyarrow rows only these are converted (text as str or None)."""
    table = getattr(rows, "table", None)
    if table is None:
        return rows.iloc[lines].reset_index(drop=True)
    return table.take(lines).to_pandas()


def _column(rows: Any, name: str) -> pd.Series:
    table = getattr(rows, "table", None)
    return rows[name] if table is None else table.column(name).to_pandas()


def sample(files: Iterable[tuple[str, Any]], target: str, limit: int = SAMPLE_ROWS,
           seed: int = SAMPLE_SEED) -> Sample:
    """A uniform sample of `limit` rows of (name, rows) files read one at a time (rows: a DataFrame, or
    cleaning.read's pyarrow rows): each row draws a random key and the `limit` smallest keys are kept,
    so memory holds one file and the sample, and only rows that may enter it become pandas rows."""
    rng = np.random.default_rng(seed)
    kept: pd.DataFrame | None = None
    targets: list[pd.Series] = []
    columns: list[str] = []
    first_name, total, count = "", 0, 0
    for name, rows in files:
        length, names = _shape(rows)
        if count == 0:
            columns, first_name = names, name
        elif sorted(names) != sorted(columns):
            missing, extra = sorted(set(columns) - set(names)), sorted(set(names) - set(columns))
            raise DataError(f"{name}: columns differ from {first_name} (missing {missing}, extra {extra})")
        if target not in names:
            raise DataError(f"{name}: target column '{target}' not found; columns are {names}")
        keys = rng.random(length)
        lines = np.arange(length)
        if kept is not None and len(kept) >= limit:  # only keys below the sample's largest can enter it
            lines = lines[keys < kept["_key"].max()]
        if len(lines) > limit:
            lines = np.sort(lines[np.argpartition(keys[lines], limit)[:limit]])
        piece = _take(rows, lines)[columns].assign(_key=keys[lines], _file=count, _line=lines)
        targets.append(_present_target(_column(rows, target)))
        kept = piece if kept is None else pd.concat([kept, piece], ignore_index=True)
        if len(kept) > limit:
            kept = kept.nsmallest(limit, "_key")
        total, count = total + length, count + 1
    if kept is None:
        raise DataError("no input files to infer column roles from")
    rows = kept.sort_values(["_file", "_line"]).drop(columns=["_key", "_file", "_line"]).reset_index(drop=True)
    return Sample(rows, pd.concat(targets, ignore_index=True), total, count, limit, seed)


def pin(
    drawn: Sample, target: str, task: str, positive_label: str, id_columns: Sequence[str],
    declared: Mapping[str, str], keep_features: Sequence[str] = (), leakage: str = "report",
) -> tuple[dict[str, Any], column_roles.Roles]:
    """The roles file every clean host applies, and the roles with their evidence (for the log)."""
    numeric = {c for c, r in declared.items() if r == column_roles.NUMERIC}
    categorical = {c for c, r in declared.items() if r in column_roles.STRING_ROLES}
    cleaned, _ = cleaning.clean(drawn.rows, target, numeric=numeric, categorical=categorical)
    found = column_roles.infer(cleaned, target, declared, keep_features, leakage)
    schema = infer_schema(cleaned, target, positive_label, id_columns, roles=found.roles, task=task,
                          target_values=drawn.target)
    pinned = {
        "task": task,
        "schema": schema.to_dict(),
        "declared_numeric": sorted(numeric),  # every value must parse (a parameter said so); inferred ones keep the stray rule
        "roles": found.report(),
        "sample": drawn.describe(),
    }
    return pinned, found


def apply(rows: Any, pinned: Mapping[str, Any]) -> tuple[Any, pd.DataFrame, dict[str, Any], Schema]:
    """One host's rows (as cleaning.read gives them) cleaned in the pinned roles: (cleaned rows as
    cleaning.clean gives them, a DataFrame of their target and date columns, the report, the pinned schema).

    The host's columns must be the roles step's (in any order); each column is typed as pinned:
    string roles stay text, numeric ones follow clean's stray rule on this host's values (too many
    strays fail naming the column), dates must parse; target values must be the pinned kind's."""
    schema = Schema.from_dict(pinned["schema"])
    assigned: dict[str, str] = dict(schema.roles)
    expected = {schema.target, *assigned}
    columns = rows.columns if isinstance(rows, pd.DataFrame) else rows.table.column_names
    missing, extra = sorted(expected - set(columns)), sorted(set(columns) - expected)
    if missing or extra:
        raise DataError(f"this host's data has different columns from the input the roles step read: missing "
                        f"{missing}, extra {extra}; every file of the input must have the same columns")
    numeric = set(pinned.get("declared_numeric", ()))
    categorical = {c for c, r in assigned.items() if r in column_roles.STRING_ROLES}
    cleaned, report = cleaning.clean(rows, schema.target, numeric=numeric, categorical=categorical)
    # what the checks read: numbers by their type (report["dtypes"]), the target and the dates by their values;
    # text roles hold any text. Only those columns become pandas columns: all of them is most of the cost.
    numbers = {"float64", "int64"}
    suspect = [c for c, r in assigned.items() if r == column_roles.NUMERIC and report["dtypes"][c] not in numbers]
    dates = [c for c, r in assigned.items() if r == column_roles.DATETIME]
    frame = cleaning.frame(cleaned, [schema.target, *dates, *suspect])
    evidence = pinned["roles"].get("evidence", {})
    for column in [*suspect, *dates]:
        declared = evidence.get(column, {}).get("source") == "declared"
        column_roles.check_role(column, assigned[column], frame[column], source="declared" if declared else PINNED_BY)
    _check_target(schema, frame[schema.target])
    report["roles"] = {**pinned["roles"], "source": "the roles step", "sample": pinned["sample"]}
    return cleaned, frame, report, schema


def _check_target(schema: Schema, values: pd.Series) -> None:
    """A value the pinned kind cannot take fails naming its row: checked on the distinct values, and the
    whole column encoded (for the row) only when one fails."""
    try:
        schema.encode_target(pd.Series(values.dropna().unique(), dtype=values.dtype))
    except DataError:
        schema.encode_target(values)
        raise
