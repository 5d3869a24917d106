"""evaluation.json's owner: the gate section at the path the ConditionStep reads."""

import pytest

from common.errors import DataError
from pipeline import evaluation_file
from pipeline.spec import GATE_JSON_PATH


def test_written_report_is_read_back_and_the_gate_path_resolves(tmp_path):
    report = {"binary_classification_metrics": {"auc": {"value": 0.74}}, "gate": evaluation_file.gate_section("auc", 0.74)}
    evaluation_file.write(tmp_path, report)
    assert evaluation_file.json_get(evaluation_file.read(tmp_path), GATE_JSON_PATH) == 0.74


def test_a_report_without_a_gate_is_refused(tmp_path):
    with pytest.raises(ValueError, match="gate section"):
        evaluation_file.write(tmp_path, {"binary_classification_metrics": {}})
    assert not list(tmp_path.iterdir())


def test_a_missing_path_names_where_it_stopped():
    with pytest.raises(DataError, match="no 'gate.value' \\(stopped at 'gate'\\)"):
        evaluation_file.json_get({"metrics": {}}, "gate.value")
