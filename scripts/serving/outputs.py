"""What an invocation answers per record, for each kind of tabular model (the artifact's schema.kind).

    binary       JSON {"probability": P(positive), "label": "<label at the threshold>"}
                 CSV  probability,label
    multiclass   JSON {"label": "<likeliest class>", "probabilities": {"<class>": p, ...}}
                 CSV  label,p_<class 1>,p_<class 2>,...   (classes in the artifact's stated order,
                      metadata.json `labels.classes` and `outputs.csv_columns`)
    regression   JSON {"prediction": value}
                 CSV  value

JSON answers are {"predictions": [record, ...]}; CSV answers one headerless line per input row.
Numbers print as the shortest text that reads back to the same float (repr). Batch transform's
placeholder for a bad record (serving.batch) is, in CSV, every field empty but the last, which holds
the error (the same field count; a regression's single value becomes an empty value and the error),
and in JSON the same keys set to null plus "error".
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import media

ARROW_FROM_ROWS = 64  # pyarrow formats a large batch about 3x faster than a Python loop


def csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class Output:
    fields: int  # CSV fields per record

    def rows(self, kind: str, scores: np.ndarray) -> list[str]:
        """One text per record: a CSV line without its newline, or one JSON object."""
        raise NotImplementedError

    def encode(self, kind: str, scores: np.ndarray) -> bytes:
        rows = self.rows(kind, scores)
        if kind == media.JSONL:  # one result per line, as a batch answer
            return "\n".join(rows).encode()
        if kind == media.CSV:
            return "".join(row + "\n" for row in rows).encode()
        return f'{{"predictions":[{",".join(rows)}]}}'.encode()

    def placeholder_csv(self, reason: str) -> str:
        """Every field empty but the last, which holds the error (decisions.md): a bad line keeps the
        field count of a scored one (a regression's single field gains one: an empty value, then the error)."""
        return "," * max(self.fields - 1, 1) + '"' + reason.replace('"', '""') + '"'

    def placeholder_json(self, reason: str) -> str:
        return json.dumps({**dict.fromkeys(self.json_keys), "error": reason})


class BinaryOutput(Output):
    fields, json_keys = 2, ("probability", "label")

    def __init__(self, model):
        self.threshold = model.threshold
        labels = (model.schema.negative_label, model.schema.positive_label)
        self._json_labels = [json.dumps(label) for label in labels]
        self._csv_labels = [csv_field(label) for label in labels]

    def rows(self, kind, scores):
        pairs = zip(scores.tolist(), (scores >= self.threshold).tolist())  # the artifact's threshold, as Model.label
        if kind == media.CSV:
            labels = self._csv_labels
            return [f"{p!r},{labels[y]}" for p, y in pairs]
        labels = self._json_labels
        return [f'{{"probability":{p!r},"label":{labels[y]}}}' for p, y in pairs]

    def encode(self, kind, scores):
        if len(scores) < ARROW_FROM_ROWS or kind == media.JSONL:
            return super().encode(kind, scores)
        positive = scores >= self.threshold
        text = pc.cast(pa.array(scores), pa.string())
        if kind == media.CSV:
            labels = pa.array(self._csv_labels).take(positive.view(np.int8))
            return ("\n".join(pc.binary_join_element_wise(text, labels, ",").to_pylist()) + "\n").encode()
        labels = pa.array(self._json_labels).take(positive.view(np.int8))
        rows = pc.binary_join_element_wise('{"probability":', text, ',"label":', labels, "}", "")
        return f'{{"predictions":[{",".join(rows.to_pylist())}]}}'.encode()


class MulticlassOutput(Output):
    json_keys = ("label", "probabilities")

    def __init__(self, model):
        self.labels = list(model.schema.labels)
        self.fields = 1 + len(self.labels)
        self._json_labels = [json.dumps(label) for label in self.labels]
        self._csv_labels = [csv_field(label) for label in self.labels]

    def rows(self, kind, scores):
        best = np.argmax(scores, axis=1).tolist()
        if kind == media.CSV:
            labels = self._csv_labels
            return [labels[b] + "," + ",".join(repr(p) for p in row) for b, row in zip(best, scores.tolist())]
        keys, labels = self._json_labels, self._json_labels
        return ['{"label":' + labels[b] + ',"probabilities":{' + ",".join(f"{k}:{p!r}" for k, p in zip(keys, row)) + "}}"
                for b, row in zip(best, scores.tolist())]


class RegressionOutput(Output):
    fields, json_keys = 1, ("prediction",)

    def __init__(self, model):
        pass

    def rows(self, kind, scores):
        if kind == media.CSV:
            return [repr(v) for v in scores.tolist()]
        return [f'{{"prediction":{v!r}}}' for v in scores.tolist()]



OUTPUTS = {"binary": BinaryOutput, "multiclass": MulticlassOutput, "regression": RegressionOutput}


def for_model(model) -> Output:
    return OUTPUTS[model.schema.kind](model)
