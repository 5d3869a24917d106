"""What a training or processing job was given: channels, hosts, checkpoints, parameters.

Sources, in the order SageMaker and the `sagemaker-training` toolkit provide them:
environment variables (`SM_*`) first, then the JSON files the platform writes.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import hyperparameters as hp
from . import layout
from common.errors import ConfigError
from common.storage import table_files

DEFAULT_HOST = "algo-1"


def rebase(local_path: str) -> Path:
    """A container path from a config file, moved with SAGEMAKER_BASE_DIR.

    Config files name paths as the container sees them (`/opt/ml/processing/input/raw`);
    when the tree lives elsewhere (tests, local runs) the same path is under the base dir.
    """
    path = Path(local_path)
    default = Path(layout.DEFAULT_BASE_DIR)
    base = layout.base_dir()
    if base != default and (path == default or default in path.parents):
        return base / path.relative_to(default)
    return path


@dataclass(frozen=True)
class Hosts:
    hosts: tuple[str, ...]
    current: str

    @property
    def is_leader(self) -> bool:
        """The first host in sorted order does the once-per-job work (as the toolkit's master)."""
        return self.current == sorted(self.hosts)[0]

    @property
    def count(self) -> int:
        return len(self.hosts)

    def shard(self, items: Sequence[Any]) -> list[Any]:
        """This host's share: a stable, disjoint round-robin over the sorted hosts."""
        position = sorted(self.hosts).index(self.current)
        return list(items[position :: len(self.hosts)])


# The SDK's local mode names hosts algo-<n>-<5 random characters> (docker-compose services);
# SageMaker names them algo-<n>. File names built from a host must not change from run to run.
_LOCAL_MODE_HOST = re.compile(r"^(algo-[0-9]+)-[a-z0-9]{5}$")


def platform_names(hosts: Hosts) -> Hosts:
    """Local mode's algo-<n>-xxxxx as the platform's algo-<n> (when every host has that form)."""
    matches = [_LOCAL_MODE_HOST.match(h) for h in hosts.hosts]
    if not all(matches) or len({m.group(1) for m in matches}) != len(matches):
        return hosts
    rename = {h: m.group(1) for h, m in zip(hosts.hosts, matches)}
    return Hosts(tuple(rename[h] for h in hosts.hosts), rename[hosts.current])


def _hosts(resource_config: Path, network_names: bool = False) -> Hosts:
    """The job's hosts as the platform names them; network_names: as they resolve on the network."""
    env_hosts = layout.read_json_env("SM_HOSTS")
    env_current = os.environ.get("SM_CURRENT_HOST")
    if env_hosts and env_current:
        hosts, current = env_hosts, env_current
    else:
        config = layout.read_json_file(resource_config)
        if config is None:
            return Hosts((DEFAULT_HOST,), DEFAULT_HOST)
        try:
            hosts, current = config["hosts"], config["current_host"]
        except (KeyError, TypeError):
            raise ConfigError(f"{resource_config}: needs 'hosts' and 'current_host'") from None
    if not (isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts)):
        raise ConfigError(f"hosts must be a non-empty list of host names, got {str(hosts)[:200]}")
    if current not in hosts:
        raise ConfigError(f"current host {str(current)[:100]!r} is not among hosts {hosts!r}")
    given = Hosts(tuple(hosts), current)
    return given if network_names else platform_names(given)


def _channel_env_name(name: str) -> str:
    return "SM_CHANNEL_" + name.upper().replace("-", "_")


@dataclass(frozen=True)
class TrainingJob:
    channels: Mapping[str, Path]
    hyperparameters: Mapping[str, Any]
    hosts: Hosts
    model_dir: Path
    output_data_dir: Path
    checkpoint_dir: Path
    failure_file: Path = field(default_factory=layout.failure_file)
    sharded_channels: frozenset[str] = frozenset()  # S3DistributionType ShardedByS3Key in inputdataconfig.json
    cpus: int = 1  # what training may use: SM_NUM_CPUS (the toolkit's count of the host's cores), else this process's

    def sharded(self, name: str) -> bool:
        """True when SageMaker gave this host only its share of the channel's objects (ShardedByS3Key);
        False when every host has every object (FullyReplicated)."""
        return name in self.sharded_channels

    def channel(self, name: str) -> Path:
        path = self.channels.get(name)
        if path is None:
            raise ConfigError(
                f"training channel '{name}' was not provided (no {_channel_env_name(name)}, "
                f"not in {layout.training_config_dir() / 'inputdataconfig.json'}); channels given: {sorted(self.channels)}"
            )
        if not path.is_dir():
            raise ConfigError(f"training channel '{name}': directory {path} does not exist")
        return path

    def params(self, spec: Mapping[str, hp.Param]) -> dict[str, Any]:
        return hp.parse(self.hyperparameters, spec)


def _names(value: Any, source: str) -> list[str]:
    """Channel names from a config file (an object keyed by channel) or SM_CHANNELS (a list)."""
    if value is None:
        return []
    names = list(value) if isinstance(value, (dict, list)) else None
    if names is None or not all(isinstance(n, str) and n and "/" not in n for n in names):
        raise ConfigError(f"{source}: expected channel names, got {str(value)[:200]}")
    return names


def _training_channels() -> dict[str, Path]:
    channels: dict[str, Path] = {}
    config_path = layout.training_config_dir() / "inputdataconfig.json"
    for name in _names(layout.read_json_file(config_path), str(config_path)):
        channels[name] = layout.training_data_dir() / name
    for name in _names(layout.read_json_env("SM_CHANNELS"), "environment variable SM_CHANNELS"):
        channels.setdefault(name, layout.training_data_dir() / name)
    for key, value in os.environ.items():
        if key.startswith("SM_CHANNEL_"):
            # SM_CHANNEL_TRAIN -> "train"; keep the configured spelling when it matches
            env_name = key[len("SM_CHANNEL_") :].lower()
            name = next((c for c in channels if _channel_env_name(c) == key), env_name)
            channels[name] = Path(value)
    return channels


def _sharded_channels() -> frozenset[str]:
    """Channels whose S3DistributionType is ShardedByS3Key (inputdataconfig.json, else SM_INPUT_DATA_CONFIG)."""
    config_path = layout.training_config_dir() / "inputdataconfig.json"
    config = layout.read_json_file(config_path)
    if config is None:
        config = layout.read_json_env("SM_INPUT_DATA_CONFIG")
    if not isinstance(config, dict):
        return frozenset()
    return frozenset(name for name, entry in config.items()
                     if isinstance(entry, dict) and entry.get("S3DistributionType") == "ShardedByS3Key")


def _mapping(value: Any, source: str) -> dict | None:
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"{source}: expected a JSON object of names and values, got {type(value).__name__}")
    return value


def checkpoint_dir() -> Path:
    """SM_CHECKPOINT_DIR, else checkpointconfig.json's LocalPath, else <base>/checkpoints."""
    if os.environ.get("SM_CHECKPOINT_DIR"):
        return Path(os.environ["SM_CHECKPOINT_DIR"])
    config_path = layout.training_config_dir() / "checkpointconfig.json"
    config = layout.read_json_file(config_path)
    if config is not None:
        if not isinstance(config, dict):
            raise ConfigError(f"{config_path}: expected a JSON object")
        # LocalPath is optional in CheckpointConfig; SageMaker's default is /opt/ml/checkpoints
        local = config.get("LocalPath") or f"{layout.DEFAULT_BASE_DIR}/checkpoints"
        if not isinstance(local, str):
            raise ConfigError(f"{config_path}: LocalPath must be a path, got {str(local)[:200]}")
        return rebase(local)
    return layout.base_dir() / "checkpoints"


def training_job(argv: Sequence[str] | None = None) -> TrainingJob:
    """The job as the script sees it: file hyperparameters < SM_HPS < command-line arguments."""
    argv = sys.argv[1:] if argv is None else argv
    hps_path = layout.training_config_dir() / "hyperparameters.json"
    file_hps = _mapping(layout.read_json_file(hps_path), str(hps_path))
    env_hps = _mapping(layout.read_json_env("SM_HPS"), "environment variable SM_HPS")
    return TrainingJob(
        channels=_training_channels(),
        hyperparameters=hp.merge(file_hps, env_hps, hp.parse_cli(argv)),
        hosts=_hosts(layout.training_config_dir() / "resourceconfig.json"),
        model_dir=layout.model_dir(),
        output_data_dir=layout.output_data_dir(),
        checkpoint_dir=checkpoint_dir(),
        sharded_channels=_sharded_channels(),
        cpus=training_cpus(),
    )


def training_cpus() -> int:
    from .serving import cpu_count

    try:
        return max(1, int(os.environ.get("SM_NUM_CPUS") or 0)) if os.environ.get("SM_NUM_CPUS") else cpu_count()
    except ValueError:
        return cpu_count()


@dataclass(frozen=True)
class ProcessingJob:
    inputs: Mapping[str, Path]
    outputs: Mapping[str, Path]
    arguments: Mapping[str, str]
    hosts: Hosts
    sharded_inputs: frozenset[str] = frozenset()  # S3DataDistributionType ShardedByS3Key
    configured: bool = False  # a processingjobconfig.json exists: only what it names is real
    message_file: Path = field(default_factory=layout.message_file)
    input_uris: Mapping[str, str] = field(default_factory=dict)  # each input's S3Uri, as the config names it

    def _resolve(self, kind: str, name: str, paths: Mapping[str, Path]) -> Path:
        if name in paths:
            return paths[name]
        if self.configured:
            # anything else would be read from, or written to, a folder SageMaker never syncs
            raise ConfigError(
                f"processing {kind} '{name}' is not in {layout.processing_config_dir() / 'processingjobconfig.json'}; "
                f"it names {sorted(paths)}"
            )
        return layout.processing_dir() / kind / name

    def has_input(self, name: str) -> bool:
        """Whether the job was given this input: an optional one (clean's `roles`) may be left out."""
        if name in self.inputs:
            return True
        return not self.configured and (layout.processing_dir() / "input" / name).is_dir()

    def input(self, name: str) -> Path:
        path = self._resolve("input", name, self.inputs)
        if not path.is_dir():
            raise ConfigError(f"processing input '{name}': directory {path} does not exist")
        return path

    def input_uri(self, name: str, path: Path | None = None) -> str | None:
        """Where an input (or a file below it) lives outside the job: its S3Uri joined with the
        file's path below the input directory; None when no config names one."""
        uri = self.input_uris.get(name)
        if not uri or path is None:
            return uri or None
        relative = Path(path).relative_to(self.input(name)).as_posix()
        if relative == "." or uri.rstrip("/").endswith("/" + relative):  # S3Uri named the object itself
            return uri
        return uri.rstrip("/") + "/" + relative

    def input_files(self, name: str) -> list[Path]:
        """This host's table files of an input: all of them when SageMaker already sharded the
        input (ShardedByS3Key), else (FullyReplicated: every host has every file) its share."""
        files = table_files(self.input(name))
        if name in self.sharded_inputs or self.hosts.count == 1:
            return files
        return self.hosts.shard(files)

    def output(self, name: str) -> Path:
        path = self._resolve("output", name, self.outputs)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def params(self, spec: Mapping[str, hp.Param]) -> dict[str, Any]:
        return hp.parse(self.arguments, spec, kind="argument")


def processing_job(argv: Sequence[str] | None = None) -> ProcessingJob:
    """Inputs and outputs by name from processingjobconfig.json, else <base>/processing/{input,output}/<name>."""
    argv = sys.argv[1:] if argv is None else argv
    config_path = layout.processing_config_dir() / "processingjobconfig.json"
    config = layout.read_json_file(config_path) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{config_path}: expected a JSON object, got {type(config).__name__}")
    inputs: dict[str, Path] = {}
    outputs: dict[str, Path] = {}
    sharded: set[str] = set()
    uris: dict[str, str] = {}
    try:
        for item in config.get("ProcessingInputs", []):
            source = item.get("S3Input") or item.get("DatasetDefinition") or {}
            inputs[item["InputName"]] = rebase(source["LocalPath"])
            if source.get("S3Uri"):
                uris[item["InputName"]] = source["S3Uri"]
            distribution = source.get("S3DataDistributionType") or source.get("DataDistributionType")
            if distribution == "ShardedByS3Key":
                sharded.add(item["InputName"])
        for item in config.get("ProcessingOutputConfig", {}).get("Outputs", []):
            if "S3Output" not in item:  # FeatureStoreOutput: nothing to write locally
                continue
            outputs[item["OutputName"]] = rebase(item["S3Output"]["LocalPath"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{config_path}: malformed input or output entry (missing {exc})") from None
    return ProcessingJob(
        inputs=inputs,
        outputs=outputs,
        arguments=hp.parse_cli(argv),
        hosts=_hosts(layout.processing_config_dir() / "resourceconfig.json"),
        sharded_inputs=frozenset(sharded),
        configured=bool(config),
        input_uris=uris,
    )
