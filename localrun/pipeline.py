"""A pipeline spec, run as SageMaker Pipelines runs it: steps in order, each fed by the outputs it
names, the gate (a ConditionStep on evaluation.json), and the steps that follow a passing model.

Reads only what S3 would hold: each step's uploaded outputs, never another job's /opt/ml tree.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import evaluation_file, spec

from .cache import prefix_files, prefix_sha256
from .endpoint import local_endpoint, score_rows
from .engines import Engine
from .jobs import Job
from .runner import LocalSession, StepFailed, StepResult


class GateFailed(RuntimeError):
    """The FailStep: the model did not reach the floor."""


@dataclass
class RunConfig:
    pipeline: spec.Pipeline
    parameters: dict[str, Any] = field(default_factory=dict)  # pipeline parameters; the rest default
    arguments: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> extra arguments (hyperparameters)
    instance_counts: dict[str, int] = field(default_factory=dict)
    rerun_from: str | None = None  # this step and every later one run again
    use_cache: bool = True

    def values(self) -> dict[str, Any]:
        unknown = sorted(set(self.parameters) - set(self.pipeline.defaults()))
        if unknown:
            raise KeyError(f"unknown pipeline parameter(s) {unknown}; declared: {sorted(self.pipeline.defaults())}")
        return {**self.pipeline.defaults(), **self.parameters}


def step_arguments(step: spec.Step, values: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """What the step is given: its bound pipeline parameters, then extra arguments."""
    unknown = sorted(set(extra) - set(step.params))
    if unknown:
        raise KeyError(f"step '{step.name}' has no parameter(s) {unknown}; it declares {sorted(step.params)}")
    bound = {param: values[parameter] for param, parameter in step.bind.items()}
    return {**bound, **extra}


def stage_input(data: Path, destination: Path) -> Path:
    """Data entering the pipeline as an S3 prefix: a file, or every file of a folder."""
    destination.mkdir(parents=True, exist_ok=True)
    if data.is_dir():
        shutil.copytree(data, destination, dirs_exist_ok=True)
    else:
        shutil.copy2(data, destination / data.name)
    return destination


def run_pipeline(config: RunConfig, session: LocalSession) -> dict[str, Any]:
    pipeline, values = config.pipeline, config.values()
    results: dict[str, StepResult] = {}
    rerun = False
    gate_checked = pipeline.gate is None
    for step in pipeline.steps:
        if step.on_gate_pass and not gate_checked:
            raise RuntimeError(f"step '{step.name}' follows the gate, which must come from an earlier step")
        inputs = {}
        for item in step.inputs:
            if isinstance(item.source, spec.FromStep):
                inputs[item.name] = results[item.source.step].outputs[item.source.output]
            else:
                inputs[item.name] = stage_input(Path(values[item.source.parameter]), session.s3 / "input" / item.source.parameter)
        rerun = rerun or step.name == config.rerun_from
        job = Job(step, inputs, step_arguments(step, values, config.arguments.get(step.name, {})),
                  config.instance_counts.get(step.name))
        results[step.name] = session.run(job, use_cache=config.use_cache and not rerun)
        if pipeline.gate and step.name == pipeline.gate.step:
            check_gate(pipeline.gate, results[step.name], values, session)
            gate_checked = True
    return {name: result for name, result in results.items()}


def check_gate(gate: spec.Gate, result: StepResult, values: dict[str, Any], session: LocalSession) -> dict[str, Any]:
    """The ConditionStep: JsonGet(gate path) >= the floor parameter, else the FailStep's message."""
    report = evaluation_file.read(result.outputs[gate.output])
    value, floor = evaluation_file.json_get(report, gate.json_path), float(values[gate.parameter])
    passed = isinstance(value, (int, float)) and value >= floor
    outcome = {"json_path": gate.json_path, "value": value, "floor": floor, "parameter": gate.parameter, "passed": passed}
    if session.record:
        session.record.manifest["gate"] = outcome
    print(f"--- gate: {gate.json_path} = {value} {'>=' if passed else '<'} {gate.parameter} {floor}", flush=True)
    if not passed:
        raise GateFailed(f"{gate.fail_message} ({gate.json_path} = {value}, {gate.parameter} = {floor})")
    return outcome


def read_model_metadata(model_prefix: Path) -> dict[str, Any]:
    """metadata.json from the uploaded model.tar.gz, as a later step would read it."""
    with tarfile.open(model_prefix / "model.tar.gz") as archive:
        return json.load(archive.extractfile("metadata.json"))


def score_on_endpoint(session: LocalSession, results: dict[str, StepResult], rows: int = 5) -> list[dict]:
    """Serve the trained model as an endpoint would and score a few raw test rows through it."""
    from tasks.classifier import channels

    test = channels.read_split(results["feature"].outputs["test"])
    schema = channels.read_preprocessor_schema(results["feature"].outputs["preprocessor"])
    print(f"--- serve (model.tar.gz on a local endpoint, {rows} raw test rows)", flush=True)
    tree = session.run_dir / "jobs" / "serve" / "algo-1"
    try:
        with local_endpoint(session.engine, results["train"].outputs["model"] / "model.tar.gz", tree) as url:
            predictions = score_rows(url, test.head(rows)[list(schema.features)])
    except RuntimeError as error:
        raise StepFailed("serve", "algo-1", 1, str(error)) from None
    for truth, prediction in zip(test.head(rows)[schema.target], predictions):
        print(f"  actual {truth!s:<8} predicted {json.dumps(prediction)}")
    return predictions


def summarize(results: dict[str, StepResult], run_dir: Path, started: float) -> dict[str, Any]:
    report = evaluation_file.read(results["evaluation"].outputs["evaluation"])
    metadata = read_model_metadata(results["train"].outputs["model"])
    outputs: dict[str, str] = {}
    for name, result in results.items():
        for output, path in result.outputs.items():
            files = sorted(p for p in path.iterdir() if p.is_file())
            outputs[output] = str(files[0] if len(files) == 1 and output in ("model", "evaluation") else path)
    return {
        "run_dir": str(run_dir),
        "test_auc": report["binary_classification_metrics"]["auc"]["value"],
        "gate": report["gate"],
        "validation_auc": metadata["metrics"]["validation_auc"],
        "validation_logloss": metadata["metrics"]["validation_logloss"],
        "threshold": metadata["threshold"],
        "trees": metadata["params"]["trees"],
        "model_sha256": prefix_files(results["train"].outputs["model"])["model.tar.gz"],
        "outputs": outputs,
        "step_seconds": {name: round(r.seconds, 2) for name, r in results.items()},
        "cached_steps": [name for name, r in results.items() if r.cached],
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


__all__ = ["GateFailed", "RunConfig", "run_pipeline", "score_on_endpoint", "summarize", "prefix_sha256"]
