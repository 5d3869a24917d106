"""The /opt/ml trees SageMaker lays out for a job, one per host, with its config files.

Config files name paths as the container sees them (/opt/ml/...); the contract layer maps
them under SAGEMAKER_BASE_DIR when the tree is not mounted at /opt/ml.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

CONTAINER_BASE = "/opt/ml"


@dataclass(frozen=True)
class Input:
    source: Path  # a local stand-in for the S3 prefix
    sharded: bool = False  # ShardedByS3Key: each host gets a disjoint share of the files


@dataclass(frozen=True)
class Step:
    name: str
    kind: str  # "processing" or "training"
    script: str  # file name under scripts/
    inputs: Mapping[str, Input] = field(default_factory=dict)
    outputs: Sequence[str] = ()  # processing output names (training always has model/ and output/)
    arguments: Mapping[str, Any] = field(default_factory=dict)  # processing args or hyperparameters
    instance_count: int = 1


def hosts_for(step: Step) -> list[str]:
    return [f"algo-{i}" for i in range(1, step.instance_count + 1)]


def _copy_input(source: Path, destination: Path, share: tuple[int, int] | None) -> None:
    """Copy the files an input delivers; with a share (index, count), only that host's files."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
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


def _resource_config(host: str, hosts: list[str]) -> dict[str, Any]:
    return {
        "current_host": host,
        "current_instance_type": "local",
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": hosts}],
        "network_interface_name": "eth0",
    }


def lay_out_processing(root: Path, step: Step, host: str, entrypoint: list[str]) -> Path:
    """<root>/<host>/ as /opt/ml of a processing container."""
    hosts = hosts_for(step)
    tree = root / host
    processing_inputs = []
    for name, spec in step.inputs.items():
        local = f"{CONTAINER_BASE}/processing/input/{name}"
        share = (hosts.index(host), len(hosts)) if spec.sharded else None
        _copy_input(spec.source, tree / "processing" / "input" / name, share)
        processing_inputs.append({
            "InputName": name,
            "S3Input": {
                "LocalPath": local, "S3Uri": spec.source.as_uri(), "S3DataType": "S3Prefix", "S3InputMode": "File",
                "S3DataDistributionType": "ShardedByS3Key" if spec.sharded else "FullyReplicated",
                "S3CompressionType": "None",
            },
        })
    outputs = []
    for name in step.outputs:
        (tree / "processing" / "output" / name).mkdir(parents=True, exist_ok=True)
        outputs.append({
            "OutputName": name,
            "S3Output": {"LocalPath": f"{CONTAINER_BASE}/processing/output/{name}", "S3Uri": f"local://{step.name}/{name}", "S3UploadMode": "EndOfJob"},
        })
    arguments = [token for key, value in step.arguments.items() for token in (f"--{key}", _argument_text(value))]
    _write_json(tree / "config" / "processingjobconfig.json", {
        "ProcessingJobArn": f"local-{step.name}",
        "ProcessingJobName": f"local-{step.name}",
        "AppSpecification": {"ImageUri": "local", "ContainerEntrypoint": entrypoint, "ContainerArguments": arguments},
        "Environment": {},
        "ProcessingInputs": processing_inputs,
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": len(hosts), "InstanceType": "local", "VolumeSizeInGB": 30}},
        "RoleArn": "arn:aws:iam::000000000000:role/local",
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    })
    _write_json(tree / "config" / "resourceconfig.json", {"current_host": host, "hosts": hosts})
    (tree / "output").mkdir(parents=True, exist_ok=True)
    return tree


def _argument_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def lay_out_training(root: Path, step: Step, host: str, code_dir: str) -> Path:
    """<root>/<host>/ as /opt/ml of a training container; hyperparameters JSON-encoded as the SDK does."""
    hosts = hosts_for(step)
    tree = root / host
    config = tree / "input" / "config"
    for name, spec in step.inputs.items():
        share = (hosts.index(host), len(hosts)) if spec.sharded else None
        _copy_input(spec.source, tree / "input" / "data" / name, share)
    hyperparameters = {key: json.dumps(value) for key, value in step.arguments.items()}
    hyperparameters["sagemaker_program"] = json.dumps(step.script)
    hyperparameters["sagemaker_submit_directory"] = json.dumps(code_dir)
    _write_json(config / "hyperparameters.json", hyperparameters)
    _write_json(config / "inputdataconfig.json", {
        name: {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key" if spec.sharded else "FullyReplicated", "RecordWrapperType": "None"}
        for name, spec in step.inputs.items()
    })
    _write_json(config / "resourceconfig.json", _resource_config(host, hosts))
    _write_json(config / "checkpointconfig.json", {"LocalPath": f"{CONTAINER_BASE}/checkpoints", "S3Uri": f"local://{step.name}/checkpoints"})
    for sub in ("model", "output/data", "checkpoints", "code"):
        (tree / sub).mkdir(parents=True, exist_ok=True)
    return tree


def failure_text(tree: Path, kind: str) -> str | None:
    """What the step wrote for SageMaker to show: output/failure (training) or output/message."""
    path = tree / "output" / ("failure" if kind == "training" else "message")
    return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None
