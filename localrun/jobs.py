"""What SageMaker does for each kind of job: the /opt/ml tree and config files it lays out per host,
the command it starts, where the failure text is, and what it uploads at the end.

One class per kind, chosen by the spec step's type, so no other module branches on the kind.
Config files name paths as the container sees them (/opt/ml/...); the contract layer maps them
under SAGEMAKER_BASE_DIR when the tree is not mounted at /opt/ml.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from contract import modeltar
from pipeline import spec

CONTAINER_BASE = "/opt/ml"
PROGRAM_DIR = "/opt/program"  # where the images keep scripts/


@dataclass(frozen=True)
class Job:
    """One execution of a spec step: where its inputs are (local "S3" prefixes) and its arguments."""

    step: spec.Step
    inputs: Mapping[str, Path]
    arguments: Mapping[str, Any] = field(default_factory=dict)
    instance_count: int | None = None  # None: the spec's
    # what the runner gives every host's environment (the barrier's leader address and port)
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        return [f"algo-{i}" for i in range(1, (self.instance_count or self.step.instance_count) + 1)]

    def sharded(self, name: str) -> bool:
        return self.step.input(name).distribution == spec.SHARDED_BY_S3_KEY


def _copy_input(source: Path, destination: Path, share: tuple[int, int] | None) -> None:
    """Copy the files an input delivers; with a share (index, count), only that host's objects."""
    files = sorted(p for p in Path(source).rglob("*") if p.is_file())
    if share is not None:
        files = files[share[0] :: share[1]]
    destination.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _argument_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _merge(sources: list[Path], destination: Path) -> Path:
    """Every host's files under one prefix, as with S3 (later hosts win on clashes)."""
    destination.mkdir(parents=True, exist_ok=True)
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
    return destination


class ProcessingKind:
    failure_file = Path("output") / "message"

    def lay_out(self, job: Job, tree: Path, host: str, code_dir: str) -> None:  # noqa: ARG002 - same signature as training
        hosts = job.hosts
        processing_inputs = []
        for name, source in job.inputs.items():
            share = (hosts.index(host), len(hosts)) if job.sharded(name) else None
            _copy_input(source, tree / "processing" / "input" / name, share)
            processing_inputs.append({
                "InputName": name,
                "S3Input": {
                    "LocalPath": f"{CONTAINER_BASE}/processing/input/{name}", "S3Uri": Path(source).as_uri(),
                    "S3DataType": "S3Prefix", "S3InputMode": "File",
                    "S3DataDistributionType": job.step.input(name).distribution, "S3CompressionType": "None",
                },
            })
        outputs = []
        for output in job.step.outputs:
            (tree / "processing" / "output" / output.name).mkdir(parents=True, exist_ok=True)
            outputs.append({"OutputName": output.name, "S3Output": {
                "LocalPath": f"{CONTAINER_BASE}/processing/output/{output.name}",
                "S3Uri": f"local://{job.step.name}/{output.name}", "S3UploadMode": "EndOfJob",
            }})
        _write_json(tree / "config" / "processingjobconfig.json", {
            "ProcessingJobArn": f"local-{job.step.name}",
            "ProcessingJobName": f"local-{job.step.name}",
            "AppSpecification": {
                "ImageUri": job.step.image, "ContainerEntrypoint": self.entrypoint(job.step),
                "ContainerArguments": self.arguments(job),
            },
            "Environment": {},
            "ProcessingInputs": processing_inputs,
            "ProcessingOutputConfig": {"Outputs": outputs},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": len(hosts), "InstanceType": "local", "VolumeSizeInGB": 30}},
            "RoleArn": "arn:aws:iam::000000000000:role/local",
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        })
        _write_json(tree / "config" / "resourceconfig.json", {"current_host": host, "hosts": hosts})
        (tree / "output").mkdir(parents=True, exist_ok=True)

    @staticmethod
    def entrypoint(step: spec.Step) -> list[str]:
        return ["python3", f"{PROGRAM_DIR}/{step.script}"]

    @staticmethod
    def arguments(job: Job) -> list[str]:
        return [token for key, value in job.arguments.items() for token in (f"--{key}", _argument_text(value))]

    def local_command(self, job: Job, tree: Path, scripts: Path) -> tuple[list[str], dict[str, str]]:  # noqa: ARG002
        return ["python3", str(scripts / job.step.script), *self.arguments(job)], dict(job.environment)

    def container_command(self, job: Job) -> dict[str, Any]:
        return {"entrypoint": self.entrypoint(job.step), "command": self.arguments(job), "environment": dict(job.environment)}

    def upload(self, job: Job, trees: Mapping[str, Path], destination: Path) -> dict[str, Path]:
        return {
            output.name: _merge([t / "processing" / "output" / output.name for t in trees.values()], destination / output.name)
            for output in job.step.outputs
        }


class TrainingKind:
    failure_file = Path("output") / "failure"

    def lay_out(self, job: Job, tree: Path, host: str, code_dir: str) -> None:
        """Hyperparameters JSON-encoded, as the SDK writes them; checkpointconfig.json as the platform does."""
        hosts = job.hosts
        config = tree / "input" / "config"
        for name, source in job.inputs.items():
            share = (hosts.index(host), len(hosts)) if job.sharded(name) else None
            _copy_input(source, tree / "input" / "data" / name, share)
        hyperparameters = {key: json.dumps(value) for key, value in job.arguments.items()}
        hyperparameters["sagemaker_program"] = json.dumps(job.step.script)
        hyperparameters["sagemaker_submit_directory"] = json.dumps(code_dir)
        _write_json(config / "hyperparameters.json", hyperparameters)
        _write_json(config / "inputdataconfig.json", {
            name: {"TrainingInputMode": "File", "S3DistributionType": job.step.input(name).distribution, "RecordWrapperType": "None"}
            for name in job.inputs
        })
        _write_json(config / "resourceconfig.json", {
            "current_host": host, "current_instance_type": "local", "current_group_name": "homogeneousCluster",
            "hosts": hosts, "network_interface_name": "eth0",
            "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": hosts}],
        })
        if job.step.checkpoints:
            _write_json(config / "checkpointconfig.json", {"LocalPath": f"{CONTAINER_BASE}/checkpoints", "S3Uri": f"local://{job.step.name}/checkpoints"})
        for sub in ("model", "output/data", "checkpoints", "code"):
            (tree / sub).mkdir(parents=True, exist_ok=True)

    # the toolkit resolves every host by DNS; algo-N only resolve inside a SageMaker network
    _ENV = {"SM_STUDIO_LOCAL_MODE": "true"}

    def local_command(self, job: Job, tree: Path, scripts: Path) -> tuple[list[str], dict[str, str]]:  # noqa: ARG002
        return ["python3", "-m", "contract.launch"], {**self._ENV, **job.environment, "SAGEMAKER_PROGRAM": job.step.script,
                                                      "PYTHONPATH": str(scripts)}

    def container_command(self, job: Job) -> dict[str, Any]:
        return {"command": ["train"], "environment": {**self._ENV, **job.environment}}

    def upload(self, job: Job, trees: Mapping[str, Path], destination: Path) -> dict[str, Path]:
        """SageMaker packs the leader's /opt/ml/model into model.tar.gz (ours is algo-1). Whether it merges
        the other hosts' is not documented; steps that need every host's part hand it to the leader."""
        (output,) = job.step.outputs
        model = trees[job.hosts[0]] / "model"
        return {output.name: modeltar.pack(model, destination / output.name / "model.tar.gz").parent}


KINDS: dict[type, ProcessingKind | TrainingKind] = {spec.ProcessingStep: ProcessingKind(), spec.TrainingStep: TrainingKind()}


def kind_of(step: spec.Step) -> ProcessingKind | TrainingKind:
    return KINDS[type(step)]


def lay_out(job: Job, root: Path, host: str, code_dir: str) -> Path:
    """<root>/<host>/ as SageMaker lays out /opt/ml for this job's host."""
    tree = Path(root) / host
    kind_of(job.step).lay_out(job, tree, host, code_dir)
    return tree


def failure_text(tree: Path, step: spec.Step) -> str | None:
    """What the step wrote for SageMaker to show: output/failure (training) or output/message."""
    path = tree / kind_of(step).failure_file
    return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None
