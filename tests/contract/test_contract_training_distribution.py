"""A training channel's S3DistributionType, as the platform writes it in inputdataconfig.json."""

import json

from contract import training_job


def test_sharded_channels_are_read_from_inputdataconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "inputdataconfig.json").write_text(json.dumps({
        "train": {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key", "RecordWrapperType": "None"},
        "validation": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"},
    }))
    job = training_job([])
    assert job.sharded("train") and not job.sharded("validation") and not job.sharded("schema")


def test_without_the_file_the_toolkits_environment_says(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    monkeypatch.setenv("SM_INPUT_DATA_CONFIG", json.dumps({"train": {"S3DistributionType": "ShardedByS3Key"}}))
    assert training_job([]).sharded("train")
