"""Each step in its image under a real Docker engine, as SageMaker local mode runs it.

The step's /opt/ml tree is bind-mounted at /opt/ml; the container runs the command the
platform would (`train`, the processing ContainerEntrypoint + arguments, `serve`). Host
networking: the project-local engine has no bridge, and servers bind 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .engines import PROGRAM_DIR
from .trees import Step

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
        self.train_image = train_image or os.environ.get("TRAIN_IMAGE") or f"{IMAGE_PREFIX}-train:latest"
        self.process_image = process_image or os.environ.get("PROCESS_IMAGE") or f"{IMAGE_PREFIX}-process:latest"
        self.client = client or _client()

    def processing_entrypoint(self, step: Step) -> list[str]:
        return ["python3", f"{PROGRAM_DIR}/{step.script}"]

    def _container(self, image: str, tree: Path, **kwargs):
        return self.client.containers.run(
            image, detach=True, network_mode="host",
            volumes={str(Path(tree).resolve()): {"bind": "/opt/ml", "mode": "rw"}}, **kwargs,
        )

    def run(self, step: Step, tree: Path, host: str) -> int:
        if step.kind == "training":
            # the toolkit resolves every host by DNS; algo-N only resolve inside a SageMaker network
            container = self._container(
                self.train_image, tree, command=["train"],
                environment={"SM_STUDIO_LOCAL_MODE": "true", "OMP_NUM_THREADS": "1"},
            )
        else:
            config = json.loads((tree / "config" / "processingjobconfig.json").read_text())
            app = config["AppSpecification"]
            container = self._container(
                self.process_image, tree, entrypoint=app["ContainerEntrypoint"],
                command=app.get("ContainerArguments") or [], environment={"OMP_NUM_THREADS": "1"},
            )
        try:
            for chunk in container.logs(stream=True, follow=True):
                sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
            return int(container.wait()["StatusCode"])
        finally:
            container.remove(force=True)

    def serve(self, tree: Path, port: int) -> ServerContainer:
        return ServerContainer(self._container(
            self.train_image, tree, command=["serve"],
            environment={"SAGEMAKER_BIND_TO_PORT": str(port), "SERVING_HOST": "127.0.0.1", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        ))
