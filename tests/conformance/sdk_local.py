"""The SageMaker Python SDK's local mode driving this project's images, as an SDK user would.

Runs in the SDK's own virtual environment (.venv-pipelines: sagemaker 2.x needs protobuf<7, which
the project's .venv cannot have), started by the conformance tests as
``.venv-pipelines/bin/python tests/conformance/sdk_local.py REQUEST.json``; prints one JSON result.
Everything stays on this machine: inputs and outputs are file:// paths, credentials are dummies,
telemetry is off (SAGEMAKER_USER_CONFIG_OVERRIDE, set by the caller) and the proxy variables point
at a closed port.

Requests (JSON objects):
  {"kind": "train", "image", "channels": {name: dir}, "hyperparameters": {k: str}, "instance_count", "output_dir",
   "environment": {k: str} (optional)}
  {"kind": "process", "image", "entrypoint": [...], "arguments": [...], "inputs": {name: dir},
   "outputs": [name], "output_dir", "instance_count"}
  {"kind": "serve", "image", "model_tar", "csv"}  -> the predictor's deserialized answer
  {"kind": "transform", "image", "model_tar", "data" (a folder), "output_dir", "environment", "strategy"}
      -> the job name and the .out files written under output_dir
  {"kind": "pipeline", "pipeline", "images": {role: uri}, "data", "parameters"} -> status, steps, evaluation.json
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

ROLE = "arn:aws:iam::000000000000:role/conformance"
REGION = "us-east-1"
BASE = "/opt/ml/processing"
TELEMETRY_OFF = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def session(container_root: str | None = None):
    import boto3
    from sagemaker.local import LocalSession

    boto = boto3.Session(aws_access_key_id="conformance", aws_secret_access_key="conformance", region_name=REGION)
    # AWS_ENDPOINT_URL (set by the caller): moto on 127.0.0.1 answers S3 and STS
    local = LocalSession(boto_session=boto, default_bucket="conformance", s3_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                         sagemaker_config=TELEMETRY_OFF)
    local.config = {"local": {"local_code": True, **({"container_root": container_root} if container_root else {})}}
    return local


def train(request: dict) -> dict:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    output = Path(request["output_dir"])
    estimator = Estimator(
        image_uri=request["image"], role=ROLE, instance_count=request.get("instance_count", 1), instance_type="local",
        hyperparameters=request["hyperparameters"], output_path=output.as_uri(), environment=request.get("environment"),
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
        inputs=[ProcessingInput(source=str(path),  # a local path: the SDK uploads it to (moto) S3
                                destination=f"{BASE}/input/{name}", input_name=name)
                for name, path in request["inputs"].items()],
        outputs=[ProcessingOutput(source=f"{BASE}/output/{name}", output_name=name)
                 for name in request["outputs"]],
        arguments=request["arguments"], wait=True, logs=True,
    )
    # The SDK rewrites a non-S3 output destination to s3://<default bucket>/<job>/output/<name>:
    # fetch each output from there into output_dir/<name>.
    s3 = processor.sagemaker_session.boto_session.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    for item in processor.latest_job.outputs:
        bucket, _, prefix = item.destination[len("s3://"):].partition("/")
        for key in _objects(s3, bucket, prefix.rstrip("/") + "/"):
            target = output / item.output_name / key[len(prefix.rstrip("/")) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
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


def transform(request: dict) -> dict:
    """Transformer(...).transform(...) with instance_type="local": the serving image as a Batch Transform
    container, the input folder and the output folder as file:// URIs."""
    from sagemaker.model import Model

    model = Model(image_uri=request["image"], model_data=Path(request["model_tar"]).as_uri(), role=ROLE,
                  env=request.get("environment"), sagemaker_session=session(request.get("container_root")))
    transformer = model.transformer(instance_count=1, instance_type="local", strategy=request.get("strategy"),
                                    assemble_with="Line", accept=request.get("accept", "text/csv"),
                                    output_path=Path(request["output_dir"]).as_uri())
    transformer.transform(Path(request["data"]).as_uri(), content_type=request.get("content_type", "text/csv"),
                          split_type="Line", wait=True, logs=False)
    outs = sorted(str(p) for p in Path(request["output_dir"]).rglob("*.out"))
    return {"job_name": transformer.latest_transform_job.job_name, "outs": outs}


def _objects(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def run_pipeline(request: dict) -> dict:
    """The project's generated pipeline (its local-mode variant) executed by LocalPipelineSession;
    S3 is moto's (AWS_ENDPOINT_URL): the input is uploaded there and the steps pass outputs through it."""
    import boto3
    from sagemaker.workflow.pipeline_context import LocalPipelineSession

    from pipeline import spec
    from pipelines import sagemaker as compiler
    from pipelines.inputs import CompileInputs

    url, bucket = os.environ["AWS_ENDPOINT_URL"], "conformance"
    boto = boto3.Session(aws_access_key_id="conformance", aws_secret_access_key="conformance", region_name=REGION)
    s3 = boto.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=bucket)
    data = Path(request["data"])
    run = f"{request['pipeline']}-{uuid.uuid4().hex[:8]}"  # moto outlives one execution: nothing shared between runs
    s3.upload_file(str(data), bucket, f"{run}/input/{data.name}")
    local = LocalPipelineSession(boto_session=boto, default_bucket=bucket, s3_endpoint_url=url)  # telemetry: the defaults file
    local.config = {"local": {"local_code": True, "container_root": request["container_root"]}}

    variant, differences = compiler.local_mode_variant(spec.PIPELINES[request["pipeline"]])
    inputs = CompileInputs(role_arn=ROLE, bucket=bucket, image_uris=request["images"],
                           processing_instance_type="local", training_instance_type="local")
    sdk_pipeline = compiler.build(variant, inputs, local)
    sdk_pipeline.create(role_arn=ROLE)
    execution = sdk_pipeline.start(parameters={
        "InputData": f"s3://{bucket}/{run}/input/", "ArtifactsS3Uri": f"s3://{bucket}/{run}/artifacts",
        **request.get("parameters", {}),
    })
    description = execution.describe()
    steps = execution.list_steps()
    steps = steps.get("PipelineExecutionSteps", steps) if isinstance(steps, dict) else steps
    evaluation = None
    for key in _objects(s3, bucket, f"{run}/artifacts/"):
        if key.endswith("/evaluation/evaluation.json"):
            evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return {
        "status": description.get("PipelineExecutionStatus"), "failure_reason": description.get("FailureReason"),
        "steps": {s["StepName"]: {"status": s.get("StepStatus"), "failure": s.get("FailureReason")} for s in steps},
        "evaluation": evaluation, "differences": differences,
    }


KINDS = {"train": train, "process": process, "serve": serve, "transform": transform, "pipeline": run_pipeline}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    result = KINDS[request["kind"]](request)
    print("SDK-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
