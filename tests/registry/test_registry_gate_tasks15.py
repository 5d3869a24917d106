"""The gate per task: register re-scores multi-class and regression models with their evaluation's metric."""

import pytest

from registry import gate, scoring
from tasks.classifier import artifact
from tasks.classifier.evaluation import evaluate
from tests.tasks.classifier.tasks15_models import FAST, diabetes, trained, wine


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_register_scores_what_evaluation_gated_on(tmp_path, name):
    frame, target, task = (wine(), "cultivar", "classifier") if name == "wine" else (diabetes(), "progression", "regression")
    model_dir, _, test = trained(tmp_path, frame, target, task)
    report, _, _ = evaluate(artifact.load(model_dir), test)
    assert scoring.score(model_dir, test) == pytest.approx(report["gate"]["value"], abs=1e-12)
    assert scoring.gate_section(report, "evaluation.json")["metric"] == report["gate"]["metric"]


def test_a_weaker_regression_champion_is_beaten_in_skill_units(tmp_path):
    frame = diabetes()
    weak_dir, _, test = trained(tmp_path / "weak", frame, "progression", "regression",
                                params=FAST.__class__(n_estimators=2, stage_size=1, learning_rate=0.05))
    strong_dir, _, _ = trained(tmp_path / "strong", frame, "progression", "regression")
    weak, strong = scoring.score(weak_dir, test), scoring.score(strong_dir, test)
    assert 0 < weak < strong
    settings = gate.GateSettings("skill_vs_train_mean", True, floor=0.1, margin=0.01, auto_approve=True)
    decision = gate.decide(strong, settings, gate.Champion("arn:champion", 1, weak, value=weak))
    assert decision.status == gate.APPROVED and decision.improvement == pytest.approx(strong - weak)
    assert gate.decide(weak, settings, None).status == gate.REJECTED  # below the regression floor
