"""`python -m pipelines`: the SageMaker Pipeline definition of a spec pipeline, and its use in AWS.

    definition [--pipeline classifier] [--out FILE] [compile options]   write the definition JSON (validated)
    validate FILE                                                        check a saved definition (botocore only)
    upsert [--pipeline classifier] [compile options]                     create or update the pipeline in AWS
    start [--pipeline classifier] [--parameter Name=Value ...]           start an execution in AWS

`definition` needs the SageMaker SDK (.venv-pipelines: `make pipelines-setup`) and no AWS account;
`upsert` and `start` need AWS credentials and a region, and say so when there are none.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from common.errors import EXIT_BAD_INPUT, ConfigError
from pipeline import spec

from . import validate
from .inputs import DEFAULT_IMAGE_URIS_FILE, CompileInputs, default_image_uris, read_image_uris

REPO = Path(__file__).resolve().parents[1]


class NeedsAws(ConfigError):
    """No credentials or no region: the command cannot reach SageMaker."""


def _pairs(items: list[str], what: str) -> dict[str, str]:
    bad = [item for item in items if "=" not in item]
    if bad:
        raise ConfigError(f"{what} takes NAME=VALUE, got {bad}")
    return dict(item.split("=", 1) for item in items)


def _typed_default(pipeline: spec.Pipeline, name: str, text: str) -> Any:
    kind = pipeline.parameter(name).type
    try:
        return json.loads(text.lower()) if kind is bool else kind(text)
    except ValueError:
        raise ConfigError(f"--default {name}={text!r}: expected a {kind.__name__}") from None


def compile_inputs(args: argparse.Namespace, pipeline: spec.Pipeline) -> CompileInputs:
    image_uris = read_image_uris(Path(args.image_uris)) if args.image_uris else default_image_uris(Path.cwd())
    defaults = _pairs(args.default, "--default")
    for name in defaults:
        if name not in {p.name for p in pipeline.parameters}:
            raise ConfigError(f"--default {name}: pipeline '{pipeline.name}' declares {[p.name for p in pipeline.parameters]}")
    chosen: dict[str, Any] = dict(
        image_uris=image_uris,
        parameter_defaults={name: _typed_default(pipeline, name, text) for name, text in sorted(defaults.items())},
        subnets=tuple(args.subnet), security_group_ids=tuple(args.security_group),
        volume_kms_key=args.volume_kms_key, output_kms_key=args.output_kms_key,
        network_isolation=args.network_isolation, tags=tuple(sorted(_pairs(args.tag, "--tag").items())),
    )
    for option in ("role_arn", "model_role_arn", "bucket", "processing_instance_type", "training_instance_type", "cache_expire_after"):
        if getattr(args, option) is not None:
            chosen[option] = getattr(args, option)
    return CompileInputs(**chosen)


def _compile(args: argparse.Namespace, real_values: bool = False) -> tuple[spec.Pipeline, CompileInputs, str]:
    pipeline = spec.pipeline(args.pipeline)
    inputs = compile_inputs(args, pipeline)
    if real_values and inputs.placeholders:
        raise ConfigError(f"upsert needs real values, not placeholders: {', '.join(inputs.placeholders)}")
    # The SDK logs its config search to stdout (where a definition may be going) and warns about v3 on
    # every object: keep stdout for the definition and stderr for what the user must act on.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from . import sagemaker as compiler
        except ImportError as error:
            raise ConfigError(
                f"the SageMaker Python SDK is not importable here ({error}): it lives in its own environment, "
                "`make pipelines-setup`, then run `.venv-pipelines/bin/python -m pipelines ...` (or `make pipeline-definition`)"
            ) from None
        definition = compiler.compile(pipeline, inputs)
    validate.check(definition)
    return pipeline, inputs, definition


def aws_session():
    """A boto3 session that has credentials and a region, or NeedsAws saying what is missing."""
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        raise NeedsAws(
            "this command talks to SageMaker and needs AWS credentials; none were found (environment variables "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials, SSO or an instance role). "
            "`python -m pipelines definition` needs none."
        )
    if not session.region_name:
        raise NeedsAws("this command needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or a profile's region")
    return session


def upsert(client, name: str, definition: str, role_arn: str, tags: tuple[tuple[str, str], ...], description: str) -> str:
    """Create the pipeline, or update it when it exists; the exact validated bytes are what is sent."""
    request = dict(PipelineName=name, PipelineDefinition=definition, RoleArn=role_arn, PipelineDescription=description)
    try:
        response = client.create_pipeline(**request, Tags=[{"Key": k, "Value": v} for k, v in tags])
        return f"created {response['PipelineArn']}"
    except client.exceptions.ResourceInUse:
        response = client.update_pipeline(**request)
        return f"updated {response['PipelineArn']}"


def start(client, name: str, parameters: dict[str, str]) -> str:
    request: dict[str, Any] = dict(PipelineName=name)
    if parameters:
        request["PipelineParameters"] = [{"Name": k, "Value": v} for k, v in sorted(parameters.items())]
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def _compile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default="classifier", choices=sorted(spec.PIPELINES))
    parser.add_argument("--image-uris", help=f"image role -> URI JSON (default: ./{DEFAULT_IMAGE_URIS_FILE} if present, else the local tags)")
    parser.add_argument("--role-arn", help="the jobs' execution role (default: a placeholder; upsert refuses it)")
    parser.add_argument("--model-role-arn", help="the endpoint Model's execution role, which deploy passes "
                        "(iam/serve.json; default: --role-arn)")
    parser.add_argument("--bucket", help="bucket of ArtifactsS3Uri's and InputData's defaults (default: a placeholder)")
    parser.add_argument("--default", action="append", default=[], metavar="NAME=VALUE", help="a spec parameter's default, e.g. InputData=s3://b/raw/")
    parser.add_argument("--processing-instance-type")
    parser.add_argument("--training-instance-type")
    parser.add_argument("--subnet", action="append", default=[], help="VPC subnet for every job (repeatable; with --security-group)")
    parser.add_argument("--security-group", action="append", default=[], help="VPC security group (repeatable)")
    parser.add_argument("--volume-kms-key", help="KMS key for the jobs' volumes (becomes parameter VolumeKmsKeyId)")
    parser.add_argument("--output-kms-key", help="KMS key for the jobs' S3 outputs (becomes parameter OutputKmsKeyId)")
    parser.add_argument("--network-isolation", action="store_true", help="EnableNetworkIsolation's default: true")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="tag every job (and the pipeline on upsert)")
    parser.add_argument("--cache-expire-after", help="step cache expiry, ISO 8601 (default P30D)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    definition = commands.add_parser("definition", help="write the definition JSON")
    _compile_options(definition)
    definition.add_argument("--out", type=Path, help="file to write (default: stdout)")
    checked = commands.add_parser("validate", help="check a definition file against the SageMaker service model")
    checked.add_argument("file", type=Path)
    upserted = commands.add_parser("upsert", help="create or update the pipeline in AWS (needs credentials)")
    _compile_options(upserted)
    upserted.add_argument("--description", default="compiled from scripts/pipeline/spec.py")
    started = commands.add_parser("start", help="start an execution in AWS (needs credentials)")
    started.add_argument("--pipeline", default="classifier", choices=sorted(spec.PIPELINES))
    started.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> str:
    if args.command == "validate":
        validate.check(args.file.read_text(encoding="utf-8"))
        return f"{args.file}: valid against the SageMaker service model"
    if args.command == "definition":
        _, inputs, definition = _compile(args)
        for placeholder in inputs.placeholders:
            print(f"note: {placeholder} is a placeholder; override it at start or compile with the real value", file=sys.stderr)
        if args.out is None:
            sys.stdout.write(definition)
            return ""
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(definition, encoding="utf-8")
        return f"wrote {args.out} ({len(definition)} bytes, valid against the SageMaker service model)"
    session = aws_session()
    client = session.client("sagemaker")
    if args.command == "upsert":
        pipeline, inputs, definition = _compile(args, real_values=True)
        return upsert(client, pipeline.name, definition, inputs.role_arn, inputs.tags, args.description)
    return f"started {start(client, args.pipeline, _pairs(args.parameter, '--parameter'))}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        message = run(args)
    except (ConfigError, OSError) as error:
        print(f"pipelines {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if message:
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
