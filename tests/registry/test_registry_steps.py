"""register.py and deploy.py as SageMaker runs them (a process in its own /opt/ml tree), against moto;
then the approval command: list, show, approve with a reason, the audit trail, deploy of what was approved."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.storage import write_table
from registry import audit
from registry.__main__ import run as registry_command
from registry.scoring import score
from tests.conftest import REPO
from tests.registry.conftest import BUCKET, pack

GROUP = "lending-steps"


def run_step(script: str, tree: Path, args: dict, moto_url: str) -> tuple[int, str]:
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tree), "SAGEMAKER_ENDPOINT_URL": moto_url}
    argv = [sys.executable, str(REPO / "scripts" / script)]
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    message = tree / "output" / "message"
    return done.returncode, (message.read_text() if message.exists() else done.stderr[-2000:])


def register_tree(tmp_path: Path, model_dir: Path, test_rows, gate_value) -> Path:
    tree = tmp_path / "register"
    pack(model_dir, tree / "processing" / "input" / "model" / "model.tar.gz")
    write_table(test_rows, tree / "processing" / "input" / "test" / "test.parquet")
    evaluation = {"gate": {"metric": "auc", "value": gate_value, "higher_is_better": True, "baseline": 0.5}}
    path = tree / "processing" / "input" / "evaluation" / "evaluation.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(evaluation))
    return tree


def command(moto_url, audit_file, *argv) -> str:
    out = io.StringIO()
    assert registry_command(["--endpoint-url", moto_url, "--audit-log", str(audit_file), *argv], out) == 0
    return out.getvalue()


def test_register_then_approve_then_deploy_as_steps(clients, moto_url, model_dir, test_rows, tmp_path):
    value = score(model_dir, test_rows)
    tree = register_tree(tmp_path, model_dir, test_rows, value)
    args = {"model_package_group": GROUP, "image_uri": "sagemaker-steps-train:latest", "auto_approve": "false",
            "git_commit": "2f8b224"}
    code, message = run_step("register.py", tree, args, moto_url)
    assert code == 0, message
    decision = json.loads((tree / "processing" / "output" / "registration" / "decision.json").read_text())
    assert decision["status"] == "PendingManualApproval" and decision["model_package_version"] == 1
    assert decision["model_data_url"].startswith("file://") and decision["model_data_url"].endswith("model.tar.gz")

    # a rerun registers nothing new
    code, message = run_step("register.py", tree, args, moto_url)
    assert code == 0, message
    again = json.loads((tree / "processing" / "output" / "registration" / "decision.json").read_text())
    assert again["registered"] is False and again["model_package_arn"] == decision["model_package_arn"]

    # deploy refuses: nothing Approved yet
    deploy_tree = tmp_path / "deploy"
    deploy_args = {"model_package_group": GROUP, "endpoint_name": "lending-steps",
                   "capture_destination": f"s3://{BUCKET}/capture", "poll": 0}
    code, message = run_step("deploy.py", deploy_tree, deploy_args, moto_url)
    assert code == 2 and "has no Approved package to deploy" in message

    # a person approves, with a reason; the audit trail and the package both say so
    audit_file = tmp_path / "audit.jsonl"
    listing = command(moto_url, audit_file, "list", GROUP)
    assert "PendingManualApproval" in listing and f"{value:.6f}"[:6] in listing
    out = command(moto_url, audit_file, "approve", f"{GROUP}/1", "--reason", "reviewed the report", "--by", "ana")
    assert "PendingManualApproval -> Approved" in out
    [entry] = audit.read(audit_file)
    assert (entry["who"], entry["from"], entry["to"], entry["reason"]) == (
        "ana", "PendingManualApproval", "Approved", "reviewed the report")
    shown = json.loads(command(moto_url, audit_file, "show", decision["model_package_arn"]))
    assert shown["status"] == "Approved" and shown["reason"] == "ana: reviewed the report"
    assert shown["properties"]["last-status-change"] == "PendingManualApproval to Approved by ana"
    # the decision adds to the package's metadata: the artifact's SHA-256, which deploy checks, stays
    assert shown["properties"]["artifact-sha256"] == decision["artifact_sha256"]
    assert len(shown["history"]) == 1

    # one command deploys it
    code, message = run_step("deploy.py", deploy_tree, deploy_args, moto_url)
    assert code == 0, message
    record = json.loads((deploy_tree / "processing" / "output" / "deployment" / "deployment.json").read_text())
    assert record["status"] == "InService" and record["model_package_arn"] == decision["model_package_arn"]
    assert record["url"] == f"{moto_url}/endpoints/lending-steps/invocations"

    # rejecting needs a reason, and is audited too
    out = command(moto_url, audit_file, "reject", f"{GROUP}/1", "--reason", "drift found", "--by", "bo")
    assert "Approved -> Rejected" in out and len(audit.read(audit_file)) == 2
    out = command(moto_url, audit_file, "delete-endpoint", "lending-steps")
    assert "deleted lending-steps" in out


def test_register_step_names_a_missing_parameter(tmp_path, moto_url):
    code, message = run_step("register.py", tmp_path / "tree", {"image_uri": "x"}, moto_url)
    assert code == 2 and "--model-package-group' is required" in message


def test_credentials_never_reach_logs_outputs_or_the_registry(clients, moto_url, model_dir, test_rows, tmp_path):
    """Planted credentials (as an instance role's would be in the environment) appear nowhere the steps write:
    stdout, stderr, the failure message, the decision file or the package's metadata; a failing call included."""
    planted = {"AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEY000001", "AWS_SECRET_ACCESS_KEY": "planted/secret+" + "s" * 25,
               "AWS_SESSION_TOKEN": "planted-session-token-" + "t" * 40}
    tree = register_tree(tmp_path, model_dir, test_rows, score(model_dir, test_rows))
    args = {"model_package_group": "secrets-check", "image_uri": "sagemaker-steps-train:latest", "auto_approve": "false"}
    deploy_args = {"model_package_group": "no-such-group", "endpoint_name": "x", "poll": 0}
    written, codes = [], []
    for script, step_tree, step_args in (("register.py", tree, args), ("deploy.py", tmp_path / "deploy", deploy_args)):
        env = {**os.environ, **planted, "SAGEMAKER_BASE_DIR": str(step_tree), "SAGEMAKER_ENDPOINT_URL": moto_url}
        argv = [sys.executable, str(REPO / "scripts" / script)] + [f"--{k}={v}" for k, v in step_args.items()]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        written += [done.stdout, done.stderr]
        codes.append(done.returncode)
        written += [p.read_text(errors="replace") for p in step_tree.rglob("*")
                    if p.is_file() and p.suffix in ("", ".json", ".jsonl", ".txt", ".log")]
    assert codes == [0, 2], written  # registered; deploy refused (no such group), with its message written
    assert "no-such-group" in (tmp_path / "deploy" / "output" / "message").read_text()
    [summary] = clients.sagemaker.list_model_packages(ModelPackageGroupName="secrets-check")["ModelPackageSummaryList"]
    package = clients.sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    written.append(json.dumps(package, default=str))
    for name, value in planted.items():
        assert not [text for text in written if value in text], f"{name} leaked"
