"""The suite runs as AWS's toolkit CI does: no credentials and no way out to the network."""

import os
import urllib.error
import urllib.request

import pytest


def test_no_aws_credentials_are_visible():
    assert "AWS_ACCESS_KEY_ID" not in os.environ and os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull


def test_outbound_http_is_refused_but_loopback_is_not_proxied():
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen("https://example.com/", timeout=5)
    assert urllib.request.proxy_bypass("127.0.0.1")
