"""The target and what it makes of the tabular task: binary, multi-class or regression.

Decided once, where the data enters (clean), from the task the caller names and the target's values:
- `task="regression"`: the target must be numbers; the model predicts a number.
- `task="classifier"`: two classes are binary (the caller names the positive one), more are
  multi-class (labels as the data has them, no positive label). A numeric target with more than
  MAX_NUMERIC_CLASSES distinct values is refused with a hint to use TASK=regression: it is most
  likely a quantity, not a set of classes.

Everything that differs between the three kinds lives here, behind one small interface (`Kind`):
how the target is encoded for the estimator, what the estimator's raw output is ("scores": P(positive)
per row, a row of class probabilities, or a number), the validation loss and metric of training, the
labels a score turns into, the self-test of an artifact. Steps, serving and the registry ask the
schema's kind and never branch on it themselves.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from common.errors import DataError

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
KIND_NAMES = (BINARY, MULTICLASS, REGRESSION)
MAX_NUMERIC_CLASSES = 20  # a numeric target with more distinct values is a quantity: TASK=regression
MIN_CLASS_ROWS = 3  # a stratified train/validation/test split needs at least one row of a class in each


def _numeric_order(labels: Sequence[str]) -> list[str]:
    """Labels sorted as numbers when they all are ("2" before "10"), else as text: the stated class order."""
    try:
        return sorted(labels, key=lambda text: (float(text), text))
    except ValueError:
        return sorted(labels)


def infer(values: pd.Series, target: str, task: str, positive_label: str = "") -> tuple[str, tuple[str, ...], str, str]:
    """(kind, labels, positive label, negative label) of a target column; a DataError says what to change."""
    present = values.dropna()
    if task == REGRESSION:
        if positive_label:
            raise DataError(f"a positive label ({positive_label!r}) means nothing for TASK=regression: leave it empty")
        if not (pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)):
            parsed = pd.to_numeric(present, errors="coerce")
            if parsed.isna().any():
                bad = present[parsed.isna()]
                raise DataError(f"TASK=regression needs a numeric target: column '{target}' row {bad.index[0]} holds "
                                f"{bad.iloc[0]!r} (e.g. {list(pd.unique(bad.astype(str)))[:5]})")
        if present.nunique() < 2:
            raise DataError(f"target column '{target}' has {present.nunique()} distinct value(s): nothing to predict")
        return REGRESSION, (), "", ""
    labels = _numeric_order(list(present.astype(str).unique()))
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric and len(labels) > MAX_NUMERIC_CLASSES:
        raise DataError(
            f"target column '{target}' is numeric with {len(labels)} distinct values (more than {MAX_NUMERIC_CLASSES}): "
            "a quantity rather than classes; use TASK=regression (make run TASK=regression ...) to predict it")
    if len(labels) < 2:
        raise DataError(f"target column '{target}' has {len(labels)} class(es) {labels}: a classifier needs two or more")
    if len(labels) == 2:
        if not positive_label:
            raise DataError(f"target column '{target}' has two classes {labels}: name the positive one "
                            "(POSITIVE= / PositiveLabel)")
        if positive_label not in labels:
            raise DataError(f"positive label {positive_label!r} not found in column '{target}' (labels: {labels})")
        negative = next(label for label in labels if label != positive_label)
        return BINARY, (negative, positive_label), positive_label, negative
    if positive_label:
        raise DataError(f"target column '{target}' has {len(labels)} classes ({labels[:10]}): a multi-class target "
                        f"has no positive label, but {positive_label!r} was given; leave POSITIVE / PositiveLabel empty")
    return MULTICLASS, tuple(labels), "", ""


def class_counts(schema, values: pd.Series) -> dict[str, Any]:
    """Rows per class (classifiers), or the target's range (regression): what clean reports."""
    if schema.kind == REGRESSION:
        numbers = pd.to_numeric(values, errors="coerce")
        return {"min": float(numbers.min()), "mean": float(numbers.mean()), "max": float(numbers.max())}
    counts = values.astype(str).value_counts()
    return {label: int(counts.get(label, 0)) for label in schema.labels}


def strata(schema, values: pd.Series) -> pd.Series | None:
    """What a split stratifies on (None for regression); classes too rare to split fail, each named."""
    if schema.kind == REGRESSION:
        return None
    encoded = kind_of(schema).encode(schema, values)
    counts = pd.Series(encoded).value_counts()
    rare = {schema.labels[code]: int(n) for code, n in counts.items() if n < MIN_CLASS_ROWS}
    rare.update({label: 0 for code, label in enumerate(schema.labels) if code not in counts.index})
    if rare:
        shown = ", ".join(f"{label!r} ({n} rows)" for label, n in sorted(rare.items()))
        raise DataError(f"column '{schema.target}': class(es) {shown} have fewer than {MIN_CLASS_ROWS} rows, too few to "
                        "split into train, validation and test: remove those rows or merge the classes")
    return pd.Series(encoded, index=values.index)


# ---- the kinds ---------------------------------------------------------------------------------------
class Kind:
    name: str
    estimator_type: str  # "classifier" or "regressor": which estimator a model family builds
    loss_name: str  # validation loss minimised by early stopping
    metric_name: str  # the validation metric logged beside it (higher or lower, as the kind says)

    def encode(self, schema, values: pd.Series) -> np.ndarray:
        raise NotImplementedError

    def scores(self, estimator, X) -> np.ndarray:
        raise NotImplementedError

    def validation(self, y: np.ndarray, scores: np.ndarray, classes: int) -> dict[str, float]:
        raise NotImplementedError

    def decide(self, schema, scores: np.ndarray, threshold: float | None) -> np.ndarray:
        raise NotImplementedError

    def check_scores(self, scores: np.ndarray) -> bool:
        raise NotImplementedError


def _labels_to_codes(schema, values: pd.Series) -> np.ndarray:
    text = values.astype(str)
    codes = pd.Categorical(text, categories=list(schema.labels)).codes
    unknown = codes < 0
    if unknown.any():
        position = int(np.argmax(unknown))
        raise DataError(f"column '{schema.target}' row {values.index[position]}: label {values.iloc[position]!r} is not "
                        f"one of the trained classes {list(schema.labels)}")
    return codes.astype(np.int64)


def _probabilities_ok(scores: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1)))


class Binary(Kind):
    name, estimator_type = BINARY, "classifier"
    loss_name, metric_name = "validation_logloss", "validation_auc"

    def encode(self, schema, values):
        """positive label -> 1, negative -> 0; anything else is an error naming the row."""
        return (_labels_to_codes(schema, values) == 1).astype(np.int8)  # labels are (negative, positive)

    def scores(self, estimator, X):
        return estimator.predict_proba(X)[:, 1]

    def validation(self, y, scores, classes):
        from sklearn.metrics import log_loss, roc_auc_score

        auc = float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan")
        return {"validation_logloss": float(log_loss(y, scores, labels=[0, 1])), "validation_auc": auc}

    def decide(self, schema, scores, threshold):
        return np.where(scores >= threshold, schema.positive_label, schema.negative_label)

    def check_scores(self, scores):
        return scores.ndim == 1 and _probabilities_ok(scores)


class Multiclass(Kind):
    name, estimator_type = MULTICLASS, "classifier"
    loss_name, metric_name = "validation_logloss", "validation_auc"  # AUC: one-vs-rest, macro-averaged

    def encode(self, schema, values):
        return _labels_to_codes(schema, values)

    def scores(self, estimator, X):
        return estimator.predict_proba(X)

    def validation(self, y, scores, classes):
        from sklearn.metrics import log_loss

        return {"validation_logloss": float(log_loss(y, scores, labels=list(range(classes)))),
                "validation_auc": ovr_macro_auc(y, scores)}

    def decide(self, schema, scores, threshold):
        return np.asarray(schema.labels, dtype=object)[np.argmax(scores, axis=1)]

    def check_scores(self, scores):
        return scores.ndim == 2 and _probabilities_ok(scores) and bool(np.allclose(scores.sum(axis=1), 1.0, atol=1e-6))


class Regression(Kind):
    name, estimator_type = REGRESSION, "regressor"
    loss_name, metric_name = "validation_mse", "validation_rmse"

    def encode(self, schema, values):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            position = int(np.argmax(bad.to_numpy()))
            raise DataError(f"column '{schema.target}' row {values.index[position]}: {values.iloc[position]!r} is not a number")
        return numbers.to_numpy(dtype=np.float64)

    def scores(self, estimator, X):
        return np.asarray(estimator.predict(X), dtype=np.float64)

    def validation(self, y, scores, classes):
        mse = float(np.mean((np.asarray(y, float) - scores) ** 2))
        return {"validation_mse": mse, "validation_rmse": float(np.sqrt(mse))}

    def decide(self, schema, scores, threshold):
        return scores

    def check_scores(self, scores):
        return scores.ndim == 1 and bool(np.all(np.isfinite(scores)))


KINDS: dict[str, Kind] = {k.name: k for k in (Binary(), Multiclass(), Regression())}


def kind_of(schema) -> Kind:
    return KINDS[schema.kind]


def ovr_macro_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """One-vs-rest ROC AUC averaged over the classes present in `y` (NaN with fewer than two)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    present = [c for c in range(proba.shape[1]) if 0 < np.sum(y == c) < len(y)]
    if len(present) < 2:
        return float("nan")
    return float(np.mean([roc_auc_score(y == c, proba[:, c]) for c in present]))
