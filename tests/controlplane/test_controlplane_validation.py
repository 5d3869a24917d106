"""Negative controls for the control plane's request check: the service model's types, required and
unknown members (botocore's ParamValidator) and its enum, length, range and pattern rules, each shown
able to refuse, with AWS's ValidationException text. The client's own validation is off, so the
server is the only referee; a refused request creates nothing."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import botocore.session
import pytest
from botocore.exceptions import ClientError

from localrun.controlplane.protocol import constraint_errors, local_url_as_s3
from localrun.servicemodel import java_to_python, pattern_matches
from plane_clients import client

NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"  # as botocore's model spells it (AWS prefixes a ^)


@pytest.fixture(scope="module")
def raw(plane):
    """A SageMaker client that sends whatever it is given: only the server validates."""
    return client("sagemaker", plane.url, parameter_validation=False)


def refusal(call, **params) -> str:
    with pytest.raises(ClientError) as error:
        call(**params)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.value.response["Error"]["Message"]


def variant(**changes) -> dict:
    return {"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
            **changes}


def test_a_64_character_endpoint_name_is_refused_for_its_length_and_its_pattern(raw):
    name = "e" * 64
    message = refusal(raw.create_endpoint, EndpointName=name, EndpointConfigName="c")
    assert message == (
        f"2 validation errors detected: Value '{name}' at 'endpointName' failed to satisfy constraint: "
        f"Member must have length less than or equal to 63; Value '{name}' at 'endpointName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}")
    assert "Could not find endpoint" in refusal(raw.describe_endpoint, EndpointName=name[:63])


def test_a_name_of_the_right_length_is_held_to_the_pattern(raw):
    message = refusal(raw.create_endpoint, EndpointName="lending_live", EndpointConfigName="c")
    assert message == ("1 validation error detected: Value 'lending_live' at 'endpointName' failed to satisfy "
                       f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}")


def post(url: str, operation: str, body: dict) -> tuple[int, dict]:
    """A request botocore would not even serialize (it refuses unknown keys itself)."""
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request("POST", "/", body=json.dumps(body), headers={
            "X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_misspelt_key_is_refused(plane):
    status, answer = post(plane.url, "CreateEndpoint", {"EndpointName": "lending-live", "EndpointConfigNam": "c"})
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert answer["message"] == (
        "Parameter validation failed:\n"
        'Missing required parameter in input: "EndpointConfigName"\n'
        'Unknown parameter in input: "EndpointConfigNam", must be one of: EndpointName, EndpointConfigName, '
        "DeploymentConfig, Tags")


def test_a_wrong_type_is_refused(raw):
    message = refusal(raw.create_endpoint_config, EndpointConfigName="c",
                      ProductionVariants=[variant(InitialInstanceCount="2")])
    assert message == ("Parameter validation failed:\nInvalid type for parameter ProductionVariants[0]"
                       ".InitialInstanceCount, value: 2, type: <class 'str'>, valid types: <class 'int'>")


def test_an_unknown_instance_type_is_refused(raw):
    message = refusal(raw.create_endpoint_config, EndpointConfigName="c",
                      ProductionVariants=[variant(InstanceType="ml.m5.xlargee")])
    assert message.startswith(
        "1 validation error detected: Value 'ml.m5.xlargee' at 'productionVariants.1.member.instanceType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [")
    assert "ml.m5.xlarge, " in message and message.endswith("]")
    assert "Could not find endpoint configuration" in refusal(raw.describe_endpoint_config, EndpointConfigName="c")


def test_ranges_and_counts_are_refused_in_one_answer(raw):
    message = refusal(raw.create_endpoint_config, EndpointConfigName="c",
                      ProductionVariants=[variant(InitialInstanceCount=0)] * 11)
    assert message.startswith("12 validation errors detected: Value at 'productionVariants' failed to satisfy "
                              "constraint: Member must have length less than or equal to 10; Value '0' at "
                              "'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: "
                              "Member must have value greater than or equal to 1; ")
    assert message.endswith("Value '0' at 'productionVariants.11.member.initialInstanceCount' failed to satisfy "
                            "constraint: Member must have value greater than or equal to 1")


# ---- the Java patterns, read as Java reads them ---------------------------------------------------
def shape(name: str):
    return botocore.session.get_session().get_service_model("sagemaker").shape_for(name)


def test_unicode_class_patterns_accept_letters_of_any_script_and_refuse_control_characters():
    value = shape("CustomerMetadataValue")  # [\p{L}\p{Z}\p{N}_.:/=+\-@]* in this model
    assert "\\p{L}" in value.metadata["pattern"]
    assert constraint_errors("Straße 12: ok/yes=+@", value) == []
    [error] = constraint_errors("tab\there", value)
    assert error.startswith("Value 'tab\there' at '' failed to satisfy constraint: Member must satisfy regular "
                            "expression pattern: ")


def test_surrogate_pair_ranges_mean_the_astral_planes():
    pattern = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    assert "\\U00010000-\\U0010ffff" in java_to_python(pattern)
    assert pattern_matches(pattern, "emoji \U0001F600 ok") and not pattern_matches(pattern, "bell \x07")


def test_java_posix_classes_are_ascii_and_the_match_is_whole():
    assert pattern_matches(r"\A\S[\p{Print}]*\z", "ok value") and not pattern_matches(r"\A\S[\p{Print}]*\z", " lead")
    assert not pattern_matches(r"\p{Print}+", "café")  # Java's \p{Print} is US-ASCII
    assert not pattern_matches("[a-z]+", "abc1")  # matches(): the whole value, not a prefix
    assert not pattern_matches(r"\w+", "é")  # \w is ASCII in Java


def test_file_urls_and_paths_stand_for_s3_urls_on_the_control_plane(tmp_path):
    url = shape("Url")  # ModelDataUrl's shape: ^(https|s3)://([^/]+)/?(.*)$
    assert constraint_errors("s3://bucket/m/model.tar.gz", url) == []
    artifact = tmp_path / "model.tar.gz"
    assert local_url_as_s3(artifact.as_uri()) == f"s3://local{artifact}"
    assert local_url_as_s3(str(artifact)) == f"s3://local{artifact}"
    assert constraint_errors(local_url_as_s3(str(artifact)), url) == []
    assert [e for e in constraint_errors("ftp://host/model.tar.gz", url) if "regular expression" in e]
