"""Which column is what: target, positive label, ids, numeric and categorical features.

Inferred from the data in the clean step, overridable by the caller, then carried along
with the data (schema.json) so that later steps and serving agree on every column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd

from common.errors import DataError

from . import target as target_rules

# pandas.read_csv's default NA tokens: text that means "missing" in every input, at training
# (clean.py applies them to Parquet and trimmed text too) and at serving alike.
MISSING_TOKENS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


@dataclass(frozen=True)
class Schema:
    target: str
    positive_label: str
    negative_label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    id_columns: tuple[str, ...] = field(default=())
    order: tuple[str, ...] = field(default=())  # the features in the data's column order
    # every non-target column's role (tasks.classifier.roles); empty in schemas written before roles:
    # then numeric columns are numeric and the others categorical
    roles: Mapping[str, str] = field(default_factory=dict)
    kind: str = "binary"  # binary, multiclass or regression (target.py)
    labels: tuple[str, ...] = field(default=())  # the classes in their stated order; binary: (negative, positive)

    def __post_init__(self) -> None:
        if self.kind == "binary" and not self.labels:  # schemas written before multi-class: (negative, positive)
            object.__setattr__(self, "labels", (self.negative_label, self.positive_label))

    @property
    def features(self) -> tuple[str, ...]:
        """Features in the data's column order: what a headerless CSV row carries."""
        return self.order or self.numeric + self.categorical

    def role(self, column: str) -> str:
        return self.roles.get(column) or ("numeric" if column in self.numeric else "categorical")

    def columns(self, role: str) -> tuple[str, ...]:
        """The features of one role, in the data's column order."""
        return tuple(c for c in self.features if self.role(c) == role)

    def role_differences(self, other: "Schema") -> list[str]:
        """'column: role here -> role there' for every column whose role differs."""
        names = list(dict.fromkeys([*self.roles, *other.roles]))
        return [f"{c}: {self.roles.get(c, 'absent')} -> {other.roles.get(c, 'absent')}"
                for c in names if self.roles.get(c) != other.roles.get(c)]

    def agrees_with(self, other: "Schema") -> bool:
        """Same columns in the same roles, whatever their order (clean shards may see columns in any order)."""
        roles = ("target", "positive_label", "negative_label", "kind", "labels")
        sets = ("numeric", "categorical", "id_columns", "order")
        return all(getattr(self, r) == getattr(other, r) for r in roles) and all(
            set(getattr(self, s)) == set(getattr(other, s)) for s in sets) and dict(self.roles) == dict(other.roles)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = dict(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schema":
        try:
            return cls(
                target=data["target"],
                positive_label=str(data["positive_label"]),
                negative_label=str(data["negative_label"]),
                numeric=tuple(data["numeric"]),
                categorical=tuple(data["categorical"]),
                id_columns=tuple(data.get("id_columns", ())),
                order=tuple(data.get("order", ())),
                roles=dict(data.get("roles", {})),
                kind=str(data.get("kind", "binary")),
                labels=tuple(str(label) for label in data.get("labels", ())),
            )
        except KeyError as exc:
            raise DataError(f"schema is missing {exc}") from None

    def encode_target(self, labels: pd.Series) -> pd.Series:
        """The target as the estimator sees it (target.py): binary 1/0, class codes, or numbers; a value
        that is none of those is an error naming the row."""
        from .target import kind_of

        return pd.Series(kind_of(self).encode(self, labels), index=labels.index)


def infer(
    df: pd.DataFrame,
    target: str,
    positive_label: str,
    id_columns: Sequence[str] = (),
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
    task: str = "classifier",
    target_values: pd.Series | None = None,
) -> Schema:
    """Numeric dtype columns are numeric, the rest categorical, unless the caller says otherwise.
    The target's kind (binary, multiclass, regression) and labels come from target.infer.

    With `roles` (tasks.classifier.roles.infer's, every non-target column's), identifiers join the
    id columns, constants are dropped, and every string role (categorical, high_cardinality, text,
    datetime) is served as text, so it is listed in `categorical`; `roles` says how each is encoded.
    `target_values`: the target's kind and labels from these (the whole input's) rather than `df`'s (a sample).
    """
    if target not in df.columns:
        raise DataError(f"target column '{target}' not found; columns are {list(df.columns)}")
    for name in [*id_columns, *(numeric or ()), *(categorical or ())]:
        if name not in df.columns:
            raise DataError(f"column '{name}' not found; columns are {list(df.columns)}")
    kind, labels, positive_label, negative_label = target_rules.infer(
        df[target] if target_values is None else target_values, target, task, positive_label or "")
    if roles:
        id_columns = tuple(dict.fromkeys([*id_columns, *(c for c, r in roles.items() if r == "identifier")]))
    excluded = {target, *id_columns, *(c for c, r in (roles or {}).items() if r == "constant")}
    candidates = [c for c in df.columns if c not in excluded]
    forced_num, forced_cat = set(numeric or ()), set(categorical or ())
    def looks_numeric(column: str) -> bool:  # booleans are categories: "True"/"False" at serving
        return pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column])

    if roles:
        forced_num = {c for c in candidates if roles.get(c) == "numeric"}
        forced_cat = set(candidates) - forced_num
    num = [c for c in candidates if c in forced_num or (c not in forced_cat and looks_numeric(c))]
    cat = [c for c in candidates if c not in num]
    if not num and not cat:
        raise DataError(f"no feature columns left after removing target '{target}' and ids {list(id_columns)}")
    return Schema(target, positive_label, negative_label, tuple(num), tuple(cat), tuple(id_columns), tuple(candidates),
                  dict(roles or {}), kind=kind, labels=labels)
