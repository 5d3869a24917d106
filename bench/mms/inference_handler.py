"""What a user of sagemaker-inference would write for this model: pandas in, the artifact's pipeline, JSON out.

Same artifact and same output as `serve` (probability and label per row), so the benchmark
compares serving stacks, not answers. BENCH_SCRIPTS puts the project's `classifier` on the path.
"""

import io
import json
import os
import sys

import pandas as pd
from sagemaker_inference import content_types, default_inference_handler, errors

sys.path.insert(0, os.environ["BENCH_SCRIPTS"])

from tasks.classifier import artifact  # noqa: E402


class CsvProbabilityHandler(default_inference_handler.DefaultInferenceHandler):
    def default_model_fn(self, model_dir, context=None):
        return artifact.load(model_dir)

    def default_input_fn(self, input_data, content_type, context=None):
        if content_type.split(";")[0].strip() != content_types.CSV:
            raise errors.UnsupportedFormatError(content_type)
        return pd.read_csv(io.StringIO(input_data), header=None)  # the Transformer decoded CSV to str

    def default_predict_fn(self, data, model, context=None):
        data.columns = list(model.schema.features)
        proba = model.predict_proba(data)
        return proba, model.label(proba)

    def default_output_fn(self, prediction, accept, context=None):
        proba, labels = prediction
        return json.dumps({"predictions": [
            {"probability": p, "label": label} for p, label in zip(proba.tolist(), labels.tolist())]})
