"""The job as SageMaker describes it, from environment variables and from the files it writes."""

import json

import pytest

from contract import ConfigError, Param, layout, processing_job, training_job
from contract.jobs import Hosts, checkpoint_dir


@pytest.fixture
def base(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("SM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    return tmp_path


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_one_variable_moves_the_whole_tree(base):
    assert layout.model_dir() == base / "model"
    assert layout.failure_file() == base / "output" / "failure"
    assert layout.message_file() == base / "output" / "message"
    assert layout.processing_dir() == base / "processing"


def test_training_job_from_config_files_alone(base):
    config = base / "input" / "config"
    write(config / "hyperparameters.json", {"n_estimators": "3", "target": '"Class"', "sagemaker_program": '"train.py"'})
    write(config / "inputdataconfig.json", {"train": {"TrainingInputMode": "File"}, "validation": {"TrainingInputMode": "File"}})
    write(config / "resourceconfig.json", {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    (base / "input" / "data" / "train").mkdir(parents=True)
    job = training_job([])
    assert job.channels == {"train": base / "input/data/train", "validation": base / "input/data/validation"}
    assert job.channel("train") == base / "input/data/train"
    assert job.params({"n_estimators": Param(int), "target": Param(str)}) == {"n_estimators": 3, "target": "Class"}
    assert job.hosts == Hosts(("algo-1", "algo-2"), "algo-2") and not job.hosts.is_leader
    assert job.model_dir == base / "model" and job.checkpoint_dir == base / "checkpoints"
    with pytest.raises(ConfigError, match="channel 'validation': directory .* does not exist"):
        job.channel("validation")
    with pytest.raises(ConfigError, match=r"channel 'test' was not provided \(no SM_CHANNEL_TEST"):
        job.channel("test")


def test_environment_wins_over_files_and_arguments_win_over_both(base, monkeypatch, tmp_path_factory):
    write(base / "input/config/hyperparameters.json", {"n_estimators": "3"})
    elsewhere = tmp_path_factory.mktemp("channel")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(elsewhere))
    monkeypatch.setenv("SM_MODEL_DIR", str(base / "elsewhere-model"))
    monkeypatch.setenv("SM_HPS", json.dumps({"n_estimators": 5, "seed": 1}))
    monkeypatch.setenv("SM_HOSTS", '["algo-1"]')
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-1")
    job = training_job(["--seed", "9"])
    assert job.channel("train") == elsewhere
    assert job.model_dir == base / "elsewhere-model"
    assert job.hyperparameters == {"n_estimators": 5, "seed": "9"}
    assert job.hosts.is_leader


def test_checkpoint_dir_precedence(base, monkeypatch):
    assert checkpoint_dir() == base / "checkpoints"
    write(base / "input/config/checkpointconfig.json", {"LocalPath": "/opt/ml/checkpoints/run", "S3Uri": "s3://b/p"})
    assert checkpoint_dir() == base / "checkpoints" / "run"  # the container path, moved with the base
    monkeypatch.setenv("SM_CHECKPOINT_DIR", "/somewhere")
    assert str(checkpoint_dir()) == "/somewhere"


def test_missing_and_malformed_config_name_the_file(base):
    (base / "input/config").mkdir(parents=True)
    (base / "input/config/hyperparameters.json").write_text("{not json")
    with pytest.raises(ConfigError, match="hyperparameters.json: not valid JSON"):
        training_job([])
    write(base / "input/config/hyperparameters.json", {})
    write(base / "input/config/resourceconfig.json", {"current_host": "algo-3", "hosts": ["algo-1"]})
    with pytest.raises(ConfigError, match="current host 'algo-3' is not among hosts"):
        training_job([])
    write(base / "input/config/checkpointconfig.json", {"S3Uri": "s3://b"})  # LocalPath is optional
    assert checkpoint_dir() == base / "checkpoints"
    write(base / "input/config/checkpointconfig.json", ["not", "an", "object"])
    with pytest.raises(ConfigError, match="checkpointconfig.json: expected a JSON object"):
        checkpoint_dir()


def test_processing_job_from_its_config(base):
    write(base / "config/processingjobconfig.json", {
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {"LocalPath": "/opt/ml/processing/data", "S3Uri": "s3://b/raw"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "cleaned", "S3Output": {"LocalPath": "/opt/ml/processing/clean-out"}}]},
    })
    write(base / "config/resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    (base / "processing/data").mkdir(parents=True)
    job = processing_job(["--target", "Class"])
    assert job.input("raw") == base / "processing/data"
    assert job.output("cleaned") == base / "processing/clean-out" and job.output("cleaned").is_dir()
    with pytest.raises(ConfigError, match=r"processing output 'unlisted' is not in .*processingjobconfig.json; it names \['cleaned'\]"):
        job.output("unlisted")
    assert job.arguments == {"target": "Class"}
    assert job.hosts.count == 2 and job.hosts.is_leader
    with pytest.raises(ConfigError, match="processing input 'test' is not in .*processingjobconfig.json"):
        job.input("test")


def test_without_a_config_inputs_and_outputs_follow_the_convention(base):
    (base / "processing/input/raw").mkdir(parents=True)
    job = processing_job([])
    assert job.input("raw") == base / "processing/input/raw"
    assert job.output("cleaned") == base / "processing/output/cleaned"


def _shard_config(base, distribution, host):
    write(base / "config/processingjobconfig.json", {
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {"LocalPath": "/opt/ml/processing/input/raw", "S3DataDistributionType": distribution}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "fs", "FeatureStoreOutput": {"FeatureGroupName": "g"}}]},
    })
    write(base / "config/resourceconfig.json", {"current_host": host, "hosts": ["algo-1", "algo-2"]})


def test_replicated_inputs_are_shared_out_by_file_and_sharded_ones_kept_whole(base):
    raw = base / "processing/input/raw"
    raw.mkdir(parents=True)
    for name in ("a.csv", "b.csv", "c.parquet", "notes.txt"):
        (raw / name).write_text("x\n1\n")
    _shard_config(base, "FullyReplicated", "algo-2")
    assert [p.name for p in processing_job([]).input_files("raw")] == ["b.csv"]
    _shard_config(base, "FullyReplicated", "algo-1")
    assert [p.name for p in processing_job([]).input_files("raw")] == ["a.csv", "c.parquet"]
    _shard_config(base, "ShardedByS3Key", "algo-2")  # SageMaker already gave this host its share
    assert [p.name for p in processing_job([]).input_files("raw")] == ["a.csv", "b.csv", "c.parquet"]


def test_processing_config_with_a_broken_entry_is_named(base):
    write(base / "config/processingjobconfig.json", {"ProcessingInputs": [{"InputName": "raw", "S3Input": {}}]})
    with pytest.raises(ConfigError, match=r"processingjobconfig.json: malformed input or output entry \(missing 'LocalPath'\)"):
        processing_job([])


def test_hosts_shard_disjointly_and_completely():
    items = list(range(10))
    shards = [Hosts(("algo-2", "algo-1", "algo-3"), h).shard(items) for h in ("algo-1", "algo-2", "algo-3")]
    assert sorted(sum(shards, [])) == items
    assert shards[0] == [0, 3, 6, 9]
