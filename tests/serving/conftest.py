"""Serving fixtures: the real artifact, raw test rows, and `scripts/serve` as a real process on 127.0.0.1."""

from __future__ import annotations

import pytest

from serve_process import Server, serving_tree


@pytest.fixture(scope="session")
def model(model_dir):
    from classifier import artifact

    return artifact.load(model_dir)


@pytest.fixture(scope="session")
def rows(lending_split, model):
    """Raw test rows with their target and id columns, as a client holds them."""
    return lending_split[3].reset_index(drop=True)


@pytest.fixture(scope="session")
def handler(model):
    from serving.handler import Handler

    return Handler(model, max_payload_bytes=1024 * 1024)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir):
    """One healthy server shared by a module's HTTP tests; 64 KiB payload limit to test 413 cheaply."""
    base = serving_tree(tmp_path_factory.mktemp("serve"), model_dir)
    srv = Server(base, SAGEMAKER_MAX_PAYLOAD_IN_MB="0.0625")
    try:
        srv.wait_for(200)
        yield srv
    finally:
        srv.stop()
