"""Every definition the tests check, compiled in ONE process of .venv-pipelines (importing the SDK
is the slow part): `python pipelines_compile_all.py OUT_DIR` writes OUT_DIR/<name>.json and
OUT_DIR/requests.json (what the compile tried to reach)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

# count before anything can connect: every socket connect, and every botocore request (before-send)
CONNECTS: list[str] = []
_real_connect = socket.socket.connect


def _counting_connect(self, address):
    CONNECTS.append(str(address))
    return _real_connect(self, address)


socket.socket.connect = _counting_connect

import boto3  # noqa: E402

from pipeline import spec  # noqa: E402
from pipelines import sagemaker  # noqa: E402
from pipelines.__main__ import main  # noqa: E402
from pipelines.inputs import CompileInputs  # noqa: E402
from pipelines_fixtures import ACCOUNT_OPTIONS, IMAGE_URIS  # noqa: E402 - beside this file

def extended_pipeline() -> spec.Pipeline:
    """The classifier with two more steps: one after evaluation, one with side effects after the gate."""
    p = spec.CLASSIFIER
    report = spec.ProcessingStep(
        "report", "evaluation.py", spec.PROCESS_IMAGE,
        inputs=(spec.Input("evaluation", spec.FromStep("evaluation", "evaluation")),),
        outputs=(spec.Output("report", ("report.html",)),),
    )
    publish = spec.ProcessingStep(
        "publish", "evaluation.py", spec.PROCESS_IMAGE,
        inputs=(spec.Input("model", spec.FromStep("train", "model")),), cacheable=False, on_gate_pass=True,
    )
    return spec.Pipeline(p.name, p.task, p.parameters, (*p.steps, report, publish), p.gate)


def cli(out: Path, *options: str) -> None:
    code = main(["definition", *options, "--out", str(out)])
    assert code == 0, f"definition {options} exited {code}"


def run(out_dir: Path) -> None:
    sent: list[str] = []
    inputs = CompileInputs()
    boto_session = boto3.Session(aws_access_key_id="compile", aws_secret_access_key="compile", region_name=inputs.region)
    boto_session.events.register("before-send", lambda request, **_: sent.append(request.url))
    hooked = sagemaker.definition(sagemaker.build(spec.CLASSIFIER, inputs, sagemaker.offline_session(inputs, boto_session)))

    cli(out_dir / "default.json")
    cli(out_dir / "account.json", *ACCOUNT_OPTIONS)
    cli(out_dir / "forecast.json", "--pipeline", "forecast")
    cli(out_dir / "forecast-hosts.json", "--pipeline", "forecast", "--default", "TrainInstanceCount=4",
        "--default", "CleanInstanceCount=4")
    cli(out_dir / "score.json", "--pipeline", "score")
    (out_dir / "extended.json").write_text(sagemaker.compile(extended_pipeline()))
    build_dir = out_dir / "build"
    build_dir.mkdir()
    (build_dir / "image-uris.json").write_text(json.dumps(IMAGE_URIS))
    os.chdir(build_dir)  # the CLI's default: ./image-uris.json where the build wrote it
    cli(out_dir / "image-uris.json")
    (out_dir / "requests.json").write_text(json.dumps({
        "sent": sent, "connects": CONNECTS, "hooked_steps": len(json.loads(hooked)["Steps"]),
    }))


if __name__ == "__main__":
    run(Path(sys.argv[1]).resolve())
