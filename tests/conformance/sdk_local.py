"""The SageMaker Python SDK's local mode driving this project's images, as an SDK user would.

Runs in the SDK's own virtual environment (.venv-pipelines: sagemaker 2.x needs protobuf<7, which
the project's .venv cannot have), started by the conformance tests as
``.venv-pipelines/bin/python tests/conformance/sdk_local.py REQUEST.json``; prints one JSON result.
Everything stays on this machine: inputs and outputs are file:// paths, credentials are dummies,
telemetry is off (SAGEMAKER_USER_CONFIG_OVERRIDE, set by the caller) and the proxy variables point
at a closed port.

Requests (JSON objects):
  {"kind": "train", "image", "channels": {name: dir}, "hyperparameters": {k: str}, "instance_count", "output_dir"}
  {"kind": "process", "image", "entrypoint": [...], "arguments": [...], "inputs": {name: dir},
   "outputs": [name], "output_dir", "instance_count"}
  {"kind": "serve", "image", "model_tar", "csv"}  -> the predictor's deserialized answer
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROLE = "arn:aws:iam::000000000000:role/conformance"
REGION = "us-east-1"
BASE = "/opt/ml/processing"


def session(container_root: str | None = None):
    import boto3
    from sagemaker.local import LocalSession

    boto = boto3.Session(aws_access_key_id="conformance", aws_secret_access_key="conformance", region_name=REGION)
    local = LocalSession(boto_session=boto, default_bucket="conformance")
    local.config = {"local": {"local_code": True, **({"container_root": container_root} if container_root else {})}}
    return local


def train(request: dict) -> dict:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    output = Path(request["output_dir"])
    estimator = Estimator(
        image_uri=request["image"], role=ROLE, instance_count=request.get("instance_count", 1), instance_type="local",
        hyperparameters=request["hyperparameters"], output_path=output.as_uri(),
        sagemaker_session=session(request.get("container_root")),
    )
    estimator.fit({name: TrainingInput(Path(path).as_uri()) for name, path in request["channels"].items()}, wait=True)
    return {"model_data": estimator.model_data, "job_name": estimator.latest_training_job.name}


def process(request: dict) -> dict:
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor

    output = Path(request["output_dir"])
    processor = Processor(
        role=ROLE, image_uri=request["image"], instance_count=request.get("instance_count", 1), instance_type="local",
        entrypoint=request["entrypoint"], sagemaker_session=session(request.get("container_root")),
    )
    processor.run(
        inputs=[ProcessingInput(source=Path(path).as_uri(), destination=f"{BASE}/input/{name}", input_name=name)
                for name, path in request["inputs"].items()],
        outputs=[ProcessingOutput(source=f"{BASE}/output/{name}", destination=(output / name).as_uri(), output_name=name)
                 for name in request["outputs"]],
        arguments=request["arguments"], wait=True, logs=True,
    )
    return {"job_name": processor.latest_job.job_name}


def serve(request: dict) -> dict:
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    model = Model(image_uri=request["image"], model_data=Path(request["model_tar"]).as_uri(), role=ROLE,
                  predictor_cls=Predictor, sagemaker_session=session(request.get("container_root")))
    predictor = model.deploy(initial_instance_count=1, instance_type="local",
                             serializer=CSVSerializer(), deserializer=JSONDeserializer())
    try:
        answer = predictor.predict(Path(request["csv"]).read_text())
    finally:
        predictor.delete_endpoint()
    return {"answer": answer}


KINDS = {"train": train, "process": process, "serve": serve}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    result = KINDS[request["kind"]](request)
    print("SDK-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
