"""Each job's host in its image under a real Docker engine, as SageMaker local mode runs it.

The host's /opt/ml tree is bind-mounted at /opt/ml; the container runs the command the platform
would (`train`, the processing ContainerEntrypoint + arguments, `serve`). Host networking: the
project-local engine has no bridge, and servers bind 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from pipeline import spec

from .jobs import PROGRAM_DIR, Job, kind_of

IMAGE_PREFIX = os.environ.get("IMAGE_PREFIX", "sagemaker-steps")


def _client():
    import docker

    client = docker.from_env(timeout=600)
    client.ping()
    return client


class ServerContainer:
    def __init__(self, container):
        self.container = container
        self.process = None  # health waits poll the endpoint only

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s: what SageMaker does to an endpoint's container."""
        try:
            self.container.stop(timeout=30)
        finally:
            self.container.remove(force=True)


class DockerEngine:
    code_dir = PROGRAM_DIR

    def __init__(self, train_image: str | None = None, process_image: str | None = None, client=None):
        self.images = {
            spec.TRAIN_IMAGE: train_image or os.environ.get("TRAIN_IMAGE") or f"{IMAGE_PREFIX}-train:latest",
            spec.PROCESS_IMAGE: process_image or os.environ.get("PROCESS_IMAGE") or f"{IMAGE_PREFIX}-process:latest",
        }
        self.client = client or _client()
        # Host folders mounted read-only at the same path in every step's container: the local "S3"
        # and artifact store, so that a file:// ModelDataUrl (register's champion, deploy's check)
        # reads there as an s3:// one reads from any job.
        self.shared: tuple[Path, ...] = ()
        self._running: set = set()
        self._lock = threading.Lock()

    @property
    def train_image(self) -> str:
        return self.images[spec.TRAIN_IMAGE]

    @property
    def process_image(self) -> str:
        return self.images[spec.PROCESS_IMAGE]

    def code_version(self, step: spec.Step) -> str:
        return "image:" + self.client.images.get(self.images[step.image]).id

    def container(self, image: str, tree: Path, shared: tuple[Path, ...] = (), **kwargs):
        volumes = {str(Path(folder).resolve()): {"bind": str(Path(folder).resolve()), "mode": "ro"} for folder in shared}
        volumes[str(Path(tree).resolve())] = {"bind": "/opt/ml", "mode": "rw"}
        return self.client.containers.run(image, detach=True, network_mode="host", volumes=volumes, **kwargs)

    def run(self, job: Job, tree: Path, host: str) -> int:  # noqa: ARG002 - the tree says which host
        command = kind_of(job.step).container_command(job)
        command["environment"] = {**command["environment"], "OMP_NUM_THREADS": "1"}
        container = self.container(self.images[job.step.image], tree, self.shared, **command)
        with self._lock:
            self._running.add(container)
        try:
            for chunk in container.logs(stream=True, follow=True):
                sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
            return int(container.wait()["StatusCode"])
        finally:
            with self._lock:
                self._running.discard(container)
            container.remove(force=True)

    def stop_all(self, grace: float = 30.0) -> None:
        """`docker stop`: SIGTERM, SIGKILL after the grace period."""
        with self._lock:
            running = list(self._running)
        for container in running:
            try:
                container.stop(timeout=int(grace))
            except Exception:  # noqa: BLE001 - already gone
                pass

    def serve(self, tree: Path, port: int, environment: dict[str, str] | None = None,
              log: Path | None = None) -> ServerContainer:  # noqa: ARG002 - `docker logs` has the log
        """The serving image's `serve`. Host networking: every local endpoint or transform instance
        gets its own SAGEMAKER_BIND_TO_PORT, where on SageMaker each has its own host and port 8080."""
        env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"} if environment is None else dict(environment)
        env.update({"SAGEMAKER_BIND_TO_PORT": str(port), "SERVING_HOST": "127.0.0.1"})
        return ServerContainer(self.container(self.train_image, tree, command=["serve"], environment=env))
