"""register's core against a moto registry: first model, approved, pending, rejected, reruns, tampering."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from common.storage import sha256_file
from registry import gate, packages
from registry.artifacts import ArtifactMismatch, to_url
from registry.registration import Registration, register
from registry.scoring import score
from tests.registry.conftest import BUCKET, pack

GROUP = "lending"


@pytest.fixture(scope="module")
def archives(tmp_path_factory, model_dir, weak_model_dir, old_library_model_dir):
    out = tmp_path_factory.mktemp("archives")
    return {
        name: pack(directory, out / name / "model.tar.gz")
        for name, directory in (("strong", model_dir), ("weak", weak_model_dir), ("old", old_library_model_dir))
    }


@pytest.fixture(scope="module")
def scores(model_dir, weak_model_dir, test_rows):
    values = {"strong": score(model_dir, test_rows), "weak": score(weak_model_dir, test_rows)}
    assert values["strong"] > values["weak"] + 0.01  # the scenarios below rely on it
    return values


def registration(clients, archive, value, test_rows, *, s3=True, **settings) -> Registration:
    key = f"{archive.parent.name}/model.tar.gz"
    if s3:
        clients.s3.upload_file(str(archive), BUCKET, key)
    return Registration(
        group=GROUP, archive=archive, model_data_url=f"s3://{BUCKET}/{key}" if s3 else to_url(archive),
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-steps-train:abc",
        evaluation={"gate": {"metric": "auc", "value": value, "higher_is_better": True, "baseline": 0.5}},
        evaluation_source="evaluation.json", test_rows=test_rows,
        evaluation_url=f"s3://{BUCKET}/eval/evaluation.json", evaluation_sha256="0" * 64,
        git_commit="2f8b224", image_digest="sha256:" + "1" * 64, instance_types=("ml.m5.large",),
        **{"floor": 0.6, "margin": 0.001, "auto_approve": True, **settings},
    )


def test_first_model_is_judged_on_the_floor_alone(clients, archives, scores, test_rows, tmp_path):
    decision = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path)
    assert decision["registered"] and decision["status"] == gate.APPROVED
    assert decision["champion"] is None and "first model" in decision["reason"]
    package = clients.sagemaker.describe_model_package(ModelPackageName=decision["model_package_arn"])
    props = package["CustomerMetadataProperties"]
    assert props["artifact-sha256"] == decision["artifact_sha256"] and props["git-commit"] == "2f8b224"
    assert props["image-digest"] == "sha256:" + "1" * 64 and props["train-data-sha256"] == "ab" * 32
    assert float(props["gate-value"]) == pytest.approx(scores["weak"]) and props["gate-decision"] == "Approved"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == f"s3://{BUCKET}/eval/evaluation.json"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == f"s3://{BUCKET}/weak/model.tar.gz"


def test_better_challenger_is_approved_with_both_scores_recorded(clients, archives, scores, test_rows, tmp_path):
    champion = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "1")
    decision = register(clients, registration(clients, archives["strong"], scores["strong"], test_rows), tmp_path / "2")
    assert decision["status"] == gate.APPROVED and decision["model_package_version"] == 2
    assert decision["champion"]["arn"] == champion["model_package_arn"] and decision["champion"]["rescored"]
    assert decision["champion"]["value"] == pytest.approx(scores["weak"])
    props = clients.sagemaker.describe_model_package(ModelPackageName=decision["model_package_arn"])[
        "CustomerMetadataProperties"]
    assert props["champion-arn"] == champion["model_package_arn"] and props["champion-rescored"] == "true"
    assert float(props["champion-value"]) == pytest.approx(scores["weak"])
    assert packages.latest_approved(clients.sagemaker, GROUP)["ModelPackageArn"] == decision["model_package_arn"]


def test_challenger_short_of_the_margin_waits_for_a_person(clients, archives, scores, test_rows, tmp_path):
    register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "1")
    gain = scores["strong"] - scores["weak"]
    decision = register(
        clients, registration(clients, archives["strong"], scores["strong"], test_rows, margin=gain + 0.001),
        tmp_path / "2",
    )
    assert decision["status"] == gate.PENDING and "< margin" in decision["reason"]
    # the champion is still the first model
    assert packages.latest_approved(clients.sagemaker, GROUP)["ModelPackageVersion"] == 1


def test_worse_challenger_waits_for_a_person(clients, archives, scores, test_rows, tmp_path):
    register(clients, registration(clients, archives["strong"], scores["strong"], test_rows), tmp_path / "1")
    worse = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "2")
    assert worse["status"] == gate.PENDING and worse["gate"]["improvement"] < 0


def test_auto_approve_off_leaves_even_a_first_model_to_a_person(clients, archives, scores, test_rows, tmp_path):
    decision = register(
        clients, registration(clients, archives["strong"], scores["strong"], test_rows, auto_approve=False), tmp_path
    )
    assert decision["status"] == gate.PENDING and "auto_approve is off" in decision["reason"]


def test_below_the_floor_is_registered_as_rejected(clients, archives, scores, test_rows, tmp_path):
    decision = register(
        clients, registration(clients, archives["weak"], scores["weak"], test_rows, floor=scores["weak"] + 0.01),
        tmp_path,
    )
    assert decision["status"] == gate.REJECTED and "below the floor" in decision["reason"]
    assert packages.latest_approved(clients.sagemaker, GROUP) is None


def test_a_rerun_with_the_same_artifact_registers_nothing_new(clients, archives, scores, test_rows, tmp_path):
    first = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "1")
    again = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "2")
    assert not again["registered"] and again["model_package_arn"] == first["model_package_arn"]
    assert "already registered as version 1" in again["reason"]
    assert len(list(packages.iter_packages(clients.sagemaker, GROUP))) == 1
    assert len(clients.recorder.of("CreateModelPackage")) == 1
    # the create request carries an idempotency token derived from group and artifact
    assert clients.recorder.of("CreateModelPackage")[0]["ClientToken"] == packages.client_token(
        GROUP, first["artifact_sha256"])


def test_a_champion_whose_artifact_changed_fails_the_step_naming_it(clients, archives, scores, test_rows, tmp_path):
    champion = register(clients, registration(clients, archives["weak"], scores["weak"], test_rows), tmp_path / "1")
    clients.s3.put_object(Bucket=BUCKET, Key="weak/model.tar.gz", Body=b"tampered")
    with pytest.raises(ArtifactMismatch, match=champion["model_package_arn"]):
        register(clients, registration(clients, archives["strong"], scores["strong"], test_rows), tmp_path / "2")
    assert len(list(packages.iter_packages(clients.sagemaker, GROUP))) == 1


def test_a_champion_this_image_cannot_load_is_not_rescored(clients, archives, scores, test_rows, tmp_path):
    # registered by an earlier image, whose scikit-learn this image no longer has
    sha = sha256_file(archives["old"])
    packages.ensure_group(clients.sagemaker, GROUP)
    clients.sagemaker.create_model_package(**packages.package_request(
        GROUP, "sagemaker-steps-train:old", to_url(archives["old"]), sha, gate.APPROVED, "first model",
        packages.metadata(artifact_sha256=sha, gate_metric="auc", gate_value=scores["weak"]),
    ))
    decision = register(
        clients, registration(clients, archives["strong"], scores["strong"], test_rows, s3=False), tmp_path / "2"
    )
    assert decision["status"] == gate.PENDING
    assert not decision["champion"]["rescored"] and "scikit-learn 0.24.2" in decision["champion"]["not_rescored_because"]
    assert decision["champion"]["registered_value"] == pytest.approx(scores["weak"])
    assert "not re-scored" in decision["reason"]
    props = clients.sagemaker.describe_model_package(ModelPackageName=decision["model_package_arn"])[
        "CustomerMetadataProperties"]
    assert props["champion-rescored"] == "not re-scored"


def test_evaluation_on_other_rows_than_the_test_input_fails(clients, archives, scores, test_rows, tmp_path):
    from common.errors import DataError

    with pytest.raises(DataError, match="must read the same test rows"):
        register(clients, registration(clients, archives["weak"], scores["weak"] + 0.02, test_rows), tmp_path)


def _summary(version, when):
    return {
        "ModelPackageGroupName": GROUP, "ModelPackageVersion": version, "CreationTime": when,
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}",
        "ModelPackageStatus": "Completed", "ModelApprovalStatus": "Approved",
    }


def test_latest_approved_reads_every_page_and_breaks_time_ties_by_version(clients):
    """Whatever order or paging a store answers with, the champion is the newest, highest version."""
    from datetime import datetime, timezone

    same = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sm = clients.sagemaker
    expected = {"ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Descending",
                "MaxResults": 100, "ModelApprovalStatus": "Approved"}
    with Stubber(sm) as stub:
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [_summary(1, same)], "NextToken": "t"},
                          expected)
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [_summary(3, same), _summary(2, same)]},
                          {**expected, "NextToken": "t"})
        stub.add_response("describe_model_package", {
            "ModelPackageName": GROUP, "ModelPackageArn": _summary(3, same)["ModelPackageArn"], "CreationTime": same,
            "ModelPackageStatus": "Completed", "ModelPackageVersion": 3,
            "ModelPackageStatusDetails": {"ValidationStatuses": []},  # required in the response shape
        }, {"ModelPackageName": _summary(3, same)["ModelPackageArn"]})
        champion = packages.latest_approved(sm, GROUP)
        stub.assert_no_pending_responses()
    assert champion["ModelPackageVersion"] == 3
