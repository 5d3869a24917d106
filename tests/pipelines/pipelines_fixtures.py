"""Inputs shared by pipelines_compile_all.py (in .venv-pipelines) and the tests (in .venv)."""

ACCOUNT_OPTIONS = [
    "--role-arn", "arn:aws:iam::123456789012:role/pipelines", "--bucket", "my-ml-bucket",
    "--subnet", "subnet-0abc", "--security-group", "sg-0def", "--volume-kms-key", "alias/ml-volumes",
    "--output-kms-key", "alias/ml-outputs", "--network-isolation", "--tag", "team=ml", "--tag", "cost-center=42",
    "--default", "InputData=s3://my-ml-bucket/raw/", "--default", "GateFloor=0.75", "--cache-expire-after", "PT12H",
]
IMAGE_URIS = {
    "train": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-steps-train:0123456789ab",
    "process": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-steps-process:0123456789ab",
}
