"""Fixtures of the container test tier: a Docker engine and the two built images.

The engine is the one DOCKER_HOST names (``make engine-up`` starts a project-local one; then
``export DOCKER_HOST=unix://$PWD/.cache/docker/docker.sock``). Without a reachable engine every test
here is skipped, except under CI (``CI=true``), where that is a failure. Images default to the
``:latest`` tags that ``make build`` gives (containers/docker.mk); TRAIN_IMAGE / PROCESS_IMAGE
override them.

Containers run with host networking (the project-local engine has no bridge network): bind any
server in them to 127.0.0.1.
"""

from __future__ import annotations

import os

import pytest

IMAGE_PREFIX = os.environ.get("IMAGE_PREFIX", "sagemaker-steps")
DEFAULT_TRAIN_IMAGE = f"{IMAGE_PREFIX}-train:latest"
DEFAULT_PROCESS_IMAGE = f"{IMAGE_PREFIX}-process:latest"
PROGRAM_DIR = "/opt/program"  # where both images keep scripts/


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"container tier under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine():
    """A docker SDK client for DOCKER_HOST (skip without an engine; fail under CI=true)."""
    try:
        import docker
    except ImportError:  # pragma: no cover - the dev requirements have it
        _unavailable("the docker SDK is not installed (pip install docker)")
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # DockerException, connection errors, missing socket
        _unavailable(
            f"no Docker engine reachable at DOCKER_HOST={os.environ.get('DOCKER_HOST', '(unset)')}: "
            f"{exc.__class__.__name__}: {exc}. Start one with `make engine-up` and export DOCKER_HOST."
        )
    yield client
    client.close()


def _image(engine, env_var: str, default: str):
    import docker

    name = os.environ.get(env_var) or default
    try:
        return engine.images.get(name)
    except docker.errors.ImageNotFound:
        _unavailable(f"image {name} not found in the engine (run `make build`, or set {env_var})")


@pytest.fixture(scope="session")
def train_image(engine) -> str:
    """Name of the training/serving image (env TRAIN_IMAGE, default <prefix>-train:latest)."""
    _image(engine, "TRAIN_IMAGE", DEFAULT_TRAIN_IMAGE)
    return os.environ.get("TRAIN_IMAGE") or DEFAULT_TRAIN_IMAGE


@pytest.fixture(scope="session")
def process_image(engine) -> str:
    """Name of the processing image (env PROCESS_IMAGE, default <prefix>-process:latest)."""
    _image(engine, "PROCESS_IMAGE", DEFAULT_PROCESS_IMAGE)
    return os.environ.get("PROCESS_IMAGE") or DEFAULT_PROCESS_IMAGE


@pytest.fixture(scope="session")
def run_in(engine):
    """run_in(image, command, **kwargs) -> (exit_code, output): run a container to completion.

    Host networking, removed afterwards; stdout and stderr together, decoded. Extra keyword
    arguments go to ``containers.run`` (environment, volumes, entrypoint, working_dir, user, ...).
    """

    def run(image: str, command, **kwargs) -> tuple[int, str]:
        kwargs.setdefault("network_mode", "host")
        container = engine.containers.run(image, command, detach=True, **kwargs)
        try:
            result = container.wait(timeout=kwargs.pop("timeout", 600))
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            return int(result["StatusCode"]), output
        finally:
            container.remove(force=True)

    return run
