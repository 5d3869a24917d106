"""Serving environment decoding (contract.serving) and content negotiation (serving.media)."""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from contract.serving import MIB, _cgroup_cpu_quota, cpu_count, serving_config
from serving import media
from serving.errors import RequestError


def test_defaults_follow_sagemaker():
    config = serving_config({})
    assert (config.host, config.port, config.timeout, config.max_payload_bytes) == ("0.0.0.0", 8080, 60, 6 * MIB)
    assert config.workers == cpu_count() >= 1


def test_every_variable_overrides():
    config = serving_config({"SERVING_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": "9001",
                             "SAGEMAKER_MODEL_SERVER_WORKERS": "3", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "20",
                             "SAGEMAKER_MAX_PAYLOAD_IN_MB": "0.5"})
    assert (config.host, config.port, config.workers, config.timeout, config.max_payload_bytes) == (
        "127.0.0.1", 9001, 3, 20, MIB // 2)


@pytest.mark.parametrize("name,value", [
    ("SAGEMAKER_BIND_TO_PORT", "http"), ("SAGEMAKER_BIND_TO_PORT", "70000"),
    ("SAGEMAKER_MODEL_SERVER_WORKERS", "0"), ("SAGEMAKER_MODEL_SERVER_WORKERS", "2.5"),
    ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "-1"), ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "nan"),
    ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "six"),
])
def test_invalid_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        serving_config({name: value})


def test_cgroup_quota(tmp_path):
    assert _cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert _cgroup_cpu_quota(tmp_path) == 2.0


@pytest.mark.parametrize("header,expected", [
    ("text/csv", ("csv", "utf-8", {})),
    ("TEXT/CSV ; Charset=\"UTF-8\"; header=present", ("csv", "utf-8", {"charset": "UTF-8", "header": "present"})),
    ("text/csv; charset=latin-1", ("csv", "iso8859-1", {"charset": "latin-1"})),
    ("application/json;charset=utf-8", ("json", "utf-8", {"charset": "utf-8"})),
    ("application/vnd.apache.arrow.stream", ("arrow", "utf-8", {})),
    ("application/x-parquet", ("parquet", "utf-8", {})),
])
def test_reader(header, expected):
    assert media.reader(header) == expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "text/csvx", "text/csv; charset=klingon"])
def test_reader_refuses_with_415(header):
    with pytest.raises(RequestError) as caught:
        media.reader(header)
    assert caught.value.status == 415


@pytest.mark.parametrize("header,expected", [
    (None, "application/json"), ("", "application/json"), ("*/*", "application/json"),
    ("text/csv", "text/csv"), ("application/json;q=0.2, text/csv;q=0.8", "text/csv"),
    ("text/html, */*;q=0.1", "application/json"), ("text/*", "text/csv"),
    ("application/json; charset=utf-8", "application/json"),
])
def test_writer(header, expected):
    assert media.writer(header)[1] == expected


@pytest.mark.parametrize("header", ["text/html", "application/json;q=0, text/csv;q=0", "image/*"])
def test_writer_refuses_with_406(header):
    with pytest.raises(RequestError) as caught:
        media.writer(header)
    assert caught.value.status == 406
