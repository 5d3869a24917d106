"""The registry and autoscaling APIs through boto3 against the local control plane (no hosts)."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from plane_clients import client
from controlplane_store_worker import register_directly


SPEC = {"Containers": [{"Image": "123.dkr.ecr.us-east-1.amazonaws.com/steps-train:1", "ModelDataUrl": "file:///m.tar.gz"}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"]}


def register(sm, group: str, **extra) -> str:
    return sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=SPEC, **extra)["ModelPackageArn"]


def test_racing_registrations_get_unique_gapless_versions(plane, sm):
    sm.create_model_package_group(ModelPackageGroupName="race")
    arns, errors = [], []

    def worker():
        own = client("sagemaker", plane.url)
        try:
            for _ in range(5):
                arns.append(register(own, "race"))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    versions = sorted(int(arn.rsplit("/", 1)[1]) for arn in arns)
    assert versions == list(range(1, 31))
    listed = sm.list_model_packages(ModelPackageGroupName="race", MaxResults=100)["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == list(range(1, 31))


def test_processes_sharing_the_database_allocate_versions_without_gaps(tmp_path):
    path = str(tmp_path / "state.db")
    # A pool re-raises a worker's exception here instead of leaving a queue waiting for it.
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        batches = list(pool.map(register_directly, [path] * 3, [15] * 3, timeout=240))
    assert sorted(v for batch in batches for v in batch) == list(range(1, 46))


def test_approval_updates_and_the_latest_approved_lookup(sm):
    sm.create_model_package_group(ModelPackageGroupName="approvals", ModelPackageGroupDescription="gate")
    first = register(sm, "approvals", ModelApprovalStatus="Approved",
                     ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                    "S3Uri": "file:///evaluation.json"}}},
                     CustomerMetadataProperties={"sha256": "aa"})
    second = register(sm, "approvals", CustomerMetadataProperties={"sha256": "bb"},
                      DriftCheckBaselines={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                            "S3Uri": "file:///stats.json"}}})
    third = register(sm, "approvals", ModelApprovalStatus="Approved")
    described = sm.describe_model_package(ModelPackageName=second)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["DriftCheckBaselines"]["ModelQuality"]["Statistics"]["S3Uri"] == "file:///stats.json"
    assert described["InferenceSpecification"] == SPEC

    sm.update_model_package(ModelPackageArn=third, ModelApprovalStatus="Rejected", ApprovalDescription="AUC below floor")
    sm.update_model_package(ModelPackageArn=second, ModelApprovalStatus="Approved", ApprovalDescription="by a person",
                            CustomerMetadataProperties={"approved_by": "me"})
    after = sm.describe_model_package(ModelPackageName=second)
    assert (after["ModelApprovalStatus"], after["ApprovalDescription"]) == ("Approved", "by a person")
    assert after["CustomerMetadataProperties"] == {"sha256": "bb", "approved_by": "me"}
    assert after["LastModifiedTime"] >= after["CreationTime"]
    assert sm.describe_model_package(ModelPackageName=third)["ApprovalDescription"] == "AUC below floor"

    def latest(order=None):
        kwargs = {"SortOrder": order} if order else {}
        return sm.list_model_packages(ModelPackageGroupName="approvals", ModelApprovalStatus="Approved",
                                      SortBy="CreationTime", MaxResults=1, **kwargs)["ModelPackageSummaryList"][0]

    assert latest("Descending")["ModelPackageArn"] == second
    assert latest()["ModelPackageArn"] == first  # AWS's default order is ascending: the oldest
    assert sm.describe_model_package(ModelPackageName=first)["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] \
        == "file:///evaluation.json"


def test_pagination_and_group_listing(sm):
    sm.create_model_package_group(ModelPackageGroupName="pages")
    arns = [register(sm, "pages") for _ in range(5)]
    paginator = sm.get_paginator("list_model_packages")
    pages = list(paginator.paginate(ModelPackageGroupName="pages", PaginationConfig={"PageSize": 2}))
    assert [len(p["ModelPackageSummaryList"]) for p in pages] == [2, 2, 1]
    assert [s["ModelPackageArn"] for p in pages for s in p["ModelPackageSummaryList"]] == arns
    names = [g["ModelPackageGroupName"] for g in sm.list_model_package_groups(NameContains="pag")
             ["ModelPackageGroupSummaryList"]]
    assert names == ["pages"]
    assert sm.describe_model_package_group(ModelPackageGroupName="pages")["ModelPackageGroupStatus"] == "Completed"


def test_a_repeated_client_token_registers_once(sm):
    sm.create_model_package_group(ModelPackageGroupName="tokens")
    assert register(sm, "tokens", ClientToken="run-1") == register(sm, "tokens", ClientToken="run-1")
    assert len(sm.list_model_packages(ModelPackageGroupName="tokens")["ModelPackageSummaryList"]) == 1


def post_json(url: str, target: str, body: dict) -> tuple[int, dict]:
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("POST", "/", body=json.dumps(body), headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_server_validates_requests_against_the_service_model(plane):
    # boto3 cannot even serialize a misspelt key: send the JSON 1.1 request as any other client would
    status, answer = post_json(plane.url, "SageMaker.CreateModelPackageGroup", {"ModelPackageGroupNam": "typo"})
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert 'Unknown parameter in input: "ModelPackageGroupNam"' in answer["message"]
    assert 'Missing required parameter in input: "ModelPackageGroupName"' in answer["message"]
    sm = client("sagemaker", plane.url, parameter_validation=False)  # what boto3 would refuse reaches the server
    if True:
        with pytest.raises(ClientError) as error:
            sm.list_model_packages(ModelApprovalStatus="Aproved")
        assert "enum" in error.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as error:
            sm.create_model_package_group(ModelPackageGroupName="x" * 70)
        assert "length less than or equal to 63" in error.value.response["Error"]["Message"]


def test_missing_and_duplicate_resources_answer_as_aws_does(sm):
    with pytest.raises(ClientError) as error:
        sm.describe_model(ModelName="absent")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find model" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        sm.create_model_package(ModelPackageGroupName="no-such-group", InferenceSpecification=SPEC)
    assert "does not exist" in error.value.response["Error"]["Message"]
    sm.create_model_package_group(ModelPackageGroupName="twice")
    with pytest.raises(ClientError) as error:
        sm.create_model_package_group(ModelPackageGroupName="twice")
    assert "already exists" in error.value.response["Error"]["Message"]


def test_autoscaling_targets_and_policies_round_trip(plane):
    aas = client("application-autoscaling", plane.url)
    resource = "endpoint/scaled/variant/AllTraffic"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    with pytest.raises(ClientError) as error:
        aas.put_scaling_policy(PolicyName="p", ServiceNamespace="sagemaker", ResourceId=resource,
                               ScalableDimension=dimension, PolicyType="TargetTrackingScaling",
                               TargetTrackingScalingPolicyConfiguration={"TargetValue": 70.0})
    assert error.value.response["Error"]["Code"] == "ObjectNotFoundException"
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension,
                                 MinCapacity=1, MaxCapacity=4)
    policy = aas.put_scaling_policy(
        PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    assert policy["PolicyARN"].startswith("arn:aws:autoscaling:us-east-1:")
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 4)]
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingPolicies"]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
        "PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension)
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingPolicies"] == []
