"""The approval gate as a table: every rule of decisions.md's "Gates" with its boundary."""

import math

import pytest

from registry.gate import APPROVED, PENDING, REJECTED, Champion, GateSettings, decide

AUC = GateSettings("auc", higher_is_better=True, floor=0.7, margin=0.01, auto_approve=True)
MANUAL = GateSettings("auc", higher_is_better=True, floor=0.7, margin=0.01, auto_approve=False)
LOSS = GateSettings("rmse", higher_is_better=False, floor=2.0, margin=0.1, auto_approve=True)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"


def champ(value, registered=None, broken=None):
    return Champion(ARN, 1, registered if registered is not None else value, None if broken else value, broken)


@pytest.mark.parametrize("value, settings, champion, status, words", [
    (0.69, AUC, None, REJECTED, "below the floor 0.700000"),
    (0.70, AUC, None, APPROVED, "first model of the group"),  # the floor itself passes
    (0.80, MANUAL, None, PENDING, "auto_approve is off"),
    (0.76, AUC, champ(0.75), APPROVED, "better by 0.010000 >= margin"),  # 0.76 - 0.75 is 0.00999... in floats
    (0.759, AUC, champ(0.75), PENDING, "< margin 0.010000"),
    (0.70, AUC, champ(0.80), PENDING, "better by -0.100000"),  # worse than the champion, above the floor
    (0.65, AUC, champ(0.60), REJECTED, "below the floor"),  # the floor wins over beating a weak champion
    (0.90, MANUAL, champ(0.75), PENDING, "auto_approve is off"),
    (0.90, AUC, champ(None, registered=0.75, broken="ArtifactError: scikit-learn 0.24"), PENDING, "not re-scored"),
    (0.60, AUC, champ(None, registered=0.75, broken="ArtifactError"), REJECTED, "below the floor"),
    (float("nan"), AUC, None, REJECTED, "not a number"),
    (1.85, LOSS, champ(2.0), APPROVED, "better by 0.150000"),  # lower is better
    (2.10, LOSS, None, REJECTED, "above the floor"),
])
def test_gate_table(value, settings, champion, status, words):
    decision = decide(value, settings, champion)
    assert decision.status == status and words in decision.reason, decision.reason


def test_unloadable_champion_records_its_registered_score_marked_not_rescored():
    decision = decide(0.9, AUC, champ(None, registered=0.75, broken="ArtifactError: trained with 0.24"))
    assert decision.champion_value == 0.75 and decision.champion_rescored is False
    assert "0.750000 is not re-scored" in decision.reason and "trained with 0.24" in decision.reason
    assert decision.improvement is None


def test_decision_carries_both_scores():
    decision = decide(0.8, AUC, champ(0.75)).to_dict()
    assert decision["challenger_value"] == 0.8 and decision["champion_value"] == 0.75
    assert math.isclose(decision["improvement"], 0.05) and decision["champion_arn"] == ARN
