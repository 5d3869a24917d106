"""The IAM policy documents under iam/: they parse, and every S3 grant names the bucket and a prefix."""

import json
from pathlib import Path

import pytest

IAM = Path(__file__).resolve().parents[2] / "iam"
STEPS = ["clean", "feature", "train", "evaluation", "serve", "pipeline"]
STAR_ALLOWED = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}  # AWS offers no narrower resource


def statements(name):
    doc = json.loads((IAM / f"{name}.json").read_text())
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", STEPS)
def test_each_policy_parses_and_is_scoped(name):
    for statement in statements(name):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        assert all(":" in a and "*" not in a.split(":")[0] for a in actions)
        assert not any(a.endswith(":*") or a == "*" for a in actions), actions
        if "*" in resources:
            assert set(actions) <= STAR_ALLOWED, statement
        if any(a.startswith("s3:") for a in actions):
            for resource in resources:
                assert resource.startswith("arn:aws:s3:::${Bucket}"), resource
                key = resource.removeprefix("arn:aws:s3:::${Bucket}")
                assert key == "" and "Condition" in statement or key.startswith("/${Prefix}/"), resource
        if "cloudwatch:PutMetricData" in actions:
            assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"].startswith("/aws/sagemaker/")


def test_only_the_pipeline_role_calls_sagemaker_and_passes_roles():
    for name in STEPS:
        actions = {a for s in statements(name) for a in as_list(s["Action"])}
        calls = {a for a in actions if a.startswith(("sagemaker:", "iam:"))}
        assert bool(calls) == (name == "pipeline"), (name, calls)
    pass_role = next(s for s in statements("pipeline") if s["Action"] == "iam:PassRole")
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"


def test_trust_policy_is_sagemaker_in_the_own_account():
    trust = json.loads((IAM / "trust-sagemaker.json").read_text())["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
