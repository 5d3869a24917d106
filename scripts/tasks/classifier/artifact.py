"""The model artifact: one directory that serving, registry and deploy can trust.

    model.joblib    the fitted Pipeline(preprocessor, estimator): raw rows in, scores out
    metadata.json   schema (with the target's kind and classes), labels, threshold (binary), the
                    training mean (regression), what serving answers (`outputs`), parameters,
                    library versions, data hashes, a sample row for self-tests, and the SHA-256 of
                    model.joblib

Loading verifies the hash before unpickling anything and refuses a scikit-learn version
other than the one that trained the model (pickles are not portable across versions).
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from common.errors import DataError, StepError
from common.storage import remove_temporaries, sha256_file, stable_joblib_bytes, write_bytes, write_json

from .schema import Schema
from .target import BINARY, MULTICLASS, kind_of

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


class ArtifactError(StepError):
    """A model directory that is incomplete, altered or built for other libraries."""


class InputError(DataError):
    """A request or file row that the model cannot score; names the row and column."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.row, self.column = row, column


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


@dataclass
class Model:
    pipeline: Any
    schema: Schema
    threshold: float | None  # binary only
    metadata: dict[str, Any]

    def prepare(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Raw rows -> the frame the pipeline expects; extra columns are ignored.

        Missing values and unseen categories are fine (the preprocessor handles them);
        a missing column or a non-number in a numeric column is an InputError.
        """
        missing = [c for c in self.schema.features if c not in rows.columns]
        if missing:
            raise InputError(f"missing column(s) {missing}; expected {list(self.schema.features)}", column=missing[0])
        frame = rows.loc[:, list(self.schema.features)].copy()
        for column in self.schema.numeric:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                continue
            parsed = pd.to_numeric(values, errors="coerce")
            bad = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
            if bad.any():
                position = int(np.argmax(bad.to_numpy()))
                raise InputError(
                    f"row {position + 1}, column '{column}': {values.iloc[position]!r} is not a number",
                    row=position + 1, column=column,
                )
            frame[column] = parsed.astype("float64")
        return frame

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """The scores of raw rows (target.Kind.scores): binary, P(positive) per row; multi-class, a row of
        probabilities per row in `schema.labels` order; regression, the predicted number."""
        return kind_of(self.schema).scores(self.pipeline, self.prepare(rows))

    predict_proba = predict  # binary callers' name for the same scores

    def label(self, scores: np.ndarray) -> np.ndarray:
        """Scores -> what they decide: a label (binary at the threshold, multi-class the likeliest), or the number."""
        return kind_of(self.schema).decide(self.schema, scores, self.threshold)

    def sample_rows(self) -> pd.DataFrame:
        return pd.DataFrame(self.metadata["sample_rows"])

    def self_test(self) -> None:
        """Score the artifact's own sample rows; raises if the model cannot serve."""
        scores = self.predict(self.sample_rows())
        if not kind_of(self.schema).check_scores(scores):
            raise ArtifactError(f"self-test produced invalid {self.schema.kind} scores {scores.tolist()}")


def outputs(schema: Schema) -> dict[str, Any]:
    """What serving answers per record, stated in the artifact: the CSV columns in order, and the JSON keys."""
    if schema.kind == BINARY:
        return {"csv_columns": ["probability", "label"], "json": {"probability": "P(positive label)", "label": "label"}}
    if schema.kind == MULTICLASS:
        return {"csv_columns": ["label", *(f"probability_{label}" for label in schema.labels)],
                "json": {"label": "the likeliest class", "probabilities": {"<class>": "probability", "order": list(schema.labels)}}}
    return {"csv_columns": ["prediction"], "json": {"prediction": "the predicted value"}}


def save(
    model_dir: Path, pipeline: Any, schema: Schema, threshold: float | None, sample_rows: pd.DataFrame, **details: Any
) -> dict[str, Any]:
    """Write model.joblib, then metadata.json naming its hash; each file lands atomically."""
    model_dir = Path(model_dir)
    remove_temporaries(model_dir)  # a killed earlier attempt's half-written files must not be packed
    model_path = model_dir / MODEL_FILE
    write_bytes(model_path, stable_joblib_bytes(pipeline))  # equal models, equal SHA-256
    sample = sample_rows.loc[:, list(schema.features)].astype(object)
    metadata = {
        "format_version": FORMAT_VERSION,
        "model_file": MODEL_FILE,
        "model_sha256": sha256_file(model_path),
        "schema": schema.to_dict(),
        "features": [
            {"name": c, "kind": "numeric" if c in schema.numeric else "categorical", "role": schema.role(c)}
            for c in schema.features
        ],
        "labels": {"positive": schema.positive_label, "negative": schema.negative_label, "classes": list(schema.labels)},
        "task": "regression" if schema.kind == "regression" else "classifier",
        "kind": schema.kind,
        "threshold": None if threshold is None else float(threshold),
        "outputs": outputs(schema),
        "versions": library_versions(),
        "sample_rows": json.loads(sample.to_json(orient="records")),
        **details,
    }
    write_json(model_dir / METADATA_FILE, metadata)
    return metadata


def load(model_dir: Path) -> Model:
    model_dir = Path(model_dir)
    meta_path = model_dir / METADATA_FILE
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{meta_path} not found: {model_dir} is not a model artifact") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path}: not valid JSON ({exc.msg})") from None
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{meta_path}: format_version {metadata.get('format_version')!r}, expected {FORMAT_VERSION}")
    model_path = model_dir / metadata.get("model_file", MODEL_FILE)
    if not model_path.is_file():
        raise ArtifactError(f"{model_path} not found")
    actual = sha256_file(model_path)
    if actual != metadata.get("model_sha256"):
        raise ArtifactError(
            f"{model_path}: SHA-256 {actual} does not match metadata {metadata.get('model_sha256')}: altered or corrupt"
        )
    trained_with = metadata.get("versions", {}).get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ArtifactError(f"model trained with scikit-learn {trained_with}, this runtime has {sklearn.__version__}")
    absent = [key for key in ("schema", "threshold", "sample_rows") if key not in metadata]
    if absent:
        raise ArtifactError(f"{meta_path}: missing {absent}")
    try:
        pipeline = joblib.load(model_path)
    except Exception as exc:  # noqa: BLE001 - whatever unpickling raises, the file is at fault
        raise ArtifactError(
            f"{model_path}: cannot be unpickled ({type(exc).__name__}: {exc}); its SHA-256 matches "
            "metadata.json, so it was corrupt when the artifact was written: retrain and package it again"
        ) from None
    threshold = metadata["threshold"]
    return Model(pipeline, Schema.from_dict(metadata["schema"]), None if threshold is None else float(threshold), metadata)

