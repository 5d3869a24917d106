"""A pipeline spec, run as SageMaker Pipelines runs it: steps in order, each fed by the outputs it
names, the gate (a ConditionStep on evaluation.json), and the steps that follow a passing model.

Steps that call the SageMaker API (register, deploy) talk to the local control plane: the runner
starts it before the first of them and gives them `--backend local --endpoint_url <its URL>`.
Reads only what S3 would hold: each step's uploaded outputs, never another job's /opt/ml tree.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline import evaluation_file, spec

from .cache import prefix_files, prefix_sha256
from .endpoint import invoke, local_endpoint, score_rows
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
    # the local control plane's URL, started on first use; None: steps that call the SageMaker API are skipped
    control_plane: Callable[[], str] | None = None
    account: dict[str, str] = field(default_factory=dict)  # Step.bind_account values: "role", "image:<role>"

    def values(self) -> dict[str, Any]:
        unknown = sorted(set(self.parameters) - set(self.pipeline.defaults()))
        if unknown:
            raise KeyError(f"unknown pipeline parameter(s) {unknown}; declared: {sorted(self.pipeline.defaults())}")
        return {**self.pipeline.defaults(), **self.parameters}


LOCAL_ROLE = "arn:aws:iam::000000000000:role/local-sagemaker"  # the local control plane assumes no role
# A fleet bakes for minutes before the old one goes; one local endpoint process is watched for seconds.
LOCAL_API_ARGUMENTS = {"deploy": {"wait_interval": 2, "termination_wait": 2, "poll": 0.5, "timeout": 600}}


def local_account(images: dict[str, str]) -> dict[str, str]:
    """The account values (Step.bind_account) of a local run: the images as the engine names them."""
    return {spec.ACCOUNT_ROLE: LOCAL_ROLE, spec.ACCOUNT_MODEL_ROLE: LOCAL_ROLE,
            **{spec.ACCOUNT_IMAGE + role: uri for role, uri in images.items()}}


def step_arguments(step: spec.Step, values: dict[str, Any], extra: dict[str, Any],
                   account: dict[str, str] | None = None, api_url: str | None = None) -> dict[str, Any]:
    """What the step is given: its bound pipeline parameters and account values, the local control
    plane for a step that calls the SageMaker API, then extra arguments (which win)."""
    unknown = sorted(set(extra) - set(step.params))
    if unknown:
        raise KeyError(f"step '{step.name}' has no parameter(s) {unknown}; it declares {sorted(step.params)}")
    bound = {**step.fixed, **{param: values[parameter] for param, parameter in step.bind.items()}}
    for param, value in step.bind_account.items():
        if account and value in account:
            bound[param] = account[value]
    if step.sagemaker_api and api_url:
        bound.update(LOCAL_API_ARGUMENTS.get(step.name, {}), backend="local", endpoint_url=api_url)
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
    api_url = None
    for step in pipeline.steps:
        if step.on_gate_pass and not gate_checked:
            raise RuntimeError(f"step '{step.name}' follows the gate, which must come from an earlier step")
        if step.sagemaker_api and api_url is None:
            if config.control_plane is None:
                print(f"--- {step.name}: skipped (it calls the SageMaker API; no local control plane given)", flush=True)
                continue
            api_url = config.control_plane()
            print(f"--- local control plane: {api_url}", flush=True)
        if isinstance(step, spec.TransformStep):  # a job of its own kind: the serving container, never cached
            api_url = api_url or (config.control_plane() if _needs_registry(step) and config.control_plane else None)
            results[step.name] = run_transform_step(step, results, values, session, config, api_url)
            continue
        inputs = {}
        for item in step.inputs:
            if isinstance(item.source, spec.FromStep):
                inputs[item.name] = results[item.source.step].outputs[item.source.output]
            else:
                inputs[item.name] = stage_input(Path(values[item.source.parameter]), session.s3 / "input" / item.source.parameter)
        rerun = rerun or step.name == config.rerun_from
        arguments = step_arguments(step, values, config.arguments.get(step.name, {}), config.account, api_url)
        # --clean-instances, else the step's <Step>InstanceCount parameter where the pipeline declares one
        job = Job(step, inputs, arguments, config.instance_counts.get(step.name) or pipeline.instance_count(step, values))
        results[step.name] = session.run(job, use_cache=config.use_cache and not rerun)
        if pipeline.gate and step.name == pipeline.gate.step:
            check_gate(pipeline.gate, results[step.name], values, session)
            gate_checked = True
    return {name: result for name, result in results.items()}


def _needs_registry(step: spec.TransformStep) -> bool:
    return isinstance(step.input("model").source, spec.FromParameter)


def run_transform_step(step: spec.TransformStep, results: dict[str, StepResult], values: dict[str, Any],
                       session: LocalSession, config: RunConfig, api_url: str | None) -> StepResult:
    """The TransformStep (and its CreateModel step) as SageMaker runs it: localrun.transform on the engine's
    serving container, the .out files under the step's output prefix. Never cached."""
    from .transform import TransformFailed, job_of_step, package_model, raise_for_failures, run_transform

    data_source, model_source = step.input("data").source, step.input("model").source
    if isinstance(data_source, spec.FromStep):
        data = results[data_source.step].outputs[data_source.output]
    else:
        data = stage_input(Path(values[data_source.parameter]), session.s3 / "input" / data_source.parameter)
    package = None
    if isinstance(model_source, spec.FromStep):
        model_tar = results[model_source.step].outputs[model_source.output] / "model.tar.gz"
        decision = read_output_json(results, "register", "registration", spec.DECISION_FILE) if "register" in step.after else None
        package = (decision or {}).get("model_package_arn")  # the package register made of this model, for the manifest
    else:
        if api_url is None:
            raise RuntimeError(f"step '{step.name}' reads a model package: it needs the local control plane")
        model_tar, package = package_model(api_url, str(values[model_source.parameter]),
                                           str(values.get("ModelPackageGroup", "")))
    instances = config.instance_counts.get(step.name)
    output = session.s3 / step.name / step.outputs[0].name
    print(f"--- {step.name} (TransformStep, serve, {instances or step.instance_count} instance(s), model "
          f"{package or model_tar})", flush=True)
    started, wall = time.time(), time.perf_counter()
    job = job_of_step(step, Path(data), Path(model_tar), output, instances, package)
    # the lineage entry's shape (code_version, arguments, sha256, files): what `make lineage` reads
    settings = {k: v for k, v in vars(job).items() if k not in ("data", "output", "model_tar", "environment")}
    entry = {"step": step.name, "kind": type(step).__name__, "script": step.script, "image": step.image,
             "code_version": session.engine.code_version(step), "arguments": settings, "hosts": [f"algo-{i + 1}" for i in range(job.instances)],
             "inputs": {"data": {"uri": str(data), "sha256": prefix_sha256(prefix_files(Path(data)))},
                        "model": {"uri": str(Path(model_tar).parent), "package": package,
                                  "sha256": prefix_sha256(prefix_files(Path(model_tar).parent))}},
             "started": started}
    try:
        result = raise_for_failures(run_transform(job, session.run_dir / "jobs" / step.name, session.engine))
    except TransformFailed as failure:
        if session.record:
            session.record.step({**entry, "status": "failed", "ended": time.time(), "error": str(failure)})
        raise StepFailed(step.name, failure.result.failed[0].instance, 1, str(failure)) from None
    if session.record:
        files = prefix_files(output)
        session.record.step({**entry, "status": "succeeded", "ended": time.time(), "records": result.records,
                             "outputs": {step.outputs[0].name: {"uri": str(output), "sha256": prefix_sha256(files),
                                                                "files": files}}})
    print(f"    {result.records} records scored in {len(result.objects)} object(s); .out files under {output}", flush=True)
    return StepResult(Job(step, {"data": Path(data), "model": Path(model_tar)}), {}, {step.outputs[0].name: output},
                      time.perf_counter() - wall)


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
    """Serve the trained model on a throwaway endpoint and score a few raw test rows through it
    (the container tests compare the serving image with a process this way; `make run` asks the
    endpoint deploy left serving instead: smoke_test_endpoint)."""
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


def forecast_on_endpoint(session: LocalSession, results: dict[str, StepResult], series: int = 3, horizon: int = 3) -> list[dict]:
    """Serve the forecast model on a throwaway endpoint and ask it for a few series' next points."""
    from tasks.forecast import channels

    ids = sorted(channels.read_split(results["feature"].outputs["test"])["series"].astype(str).unique())[:series]
    print(f"--- serve (model.tar.gz on a local endpoint: {len(ids)} series, {horizon} steps)", flush=True)
    tree = session.run_dir / "jobs" / "serve" / "algo-1"
    try:
        with local_endpoint(session.engine, results["train"].outputs["model"] / "model.tar.gz", tree) as url:
            status, body = invoke(url, json.dumps({"series": ids, "horizon": horizon}).encode(), "application/json")
    except RuntimeError as error:
        raise StepFailed("serve", "algo-1", 1, str(error)) from None
    if status != 200:
        raise StepFailed("serve", "algo-1", 1, f"the endpoint answered {status}: {body[:500]}")
    forecasts = json.loads(body)["forecasts"]
    for row in forecasts:
        print(f"  {row['series']:<16} {row['timestamp']}  {row['mean']:.1f}  [{row['lower']:.1f}, {row['upper']:.1f}]")
    return forecasts


def read_output_json(results: dict[str, StepResult], step: str, output: str, name: str) -> dict[str, Any] | None:
    """A JSON file a step wrote (decision.json, deployment.json); None when the step did not run."""
    if step not in results:
        return None
    return json.loads((results[step].outputs[output] / name).read_text(encoding="utf-8"))


def smoke_request(url: str, rows) -> list[dict]:
    """Raw rows through the runtime API's path of a deployed endpoint, as invoke_endpoint sends them."""
    request = urllib.request.Request(url, data=rows.to_csv(index=False).encode(), method="POST",
                                     headers={"Content-Type": "text/csv", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            variant = response.headers.get("X-Amzn-Invoked-Production-Variant")
            predictions = json.loads(response.read())["predictions"]
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url} answered {error.code}: {error.read()[:500].decode(errors='replace')}") from None
    except OSError as error:
        raise RuntimeError(f"{url}: {error}") from None
    return [{**prediction, "variant": variant} for prediction in predictions]


def smoke_test_endpoint(results: dict[str, StepResult], deployment: dict[str, Any], rows: int = 5) -> list[dict]:
    """A few raw test rows through the endpoint deploy left serving (its runtime URL)."""
    from tasks.classifier import channels

    test = channels.read_split(results["feature"].outputs["test"])
    schema = channels.read_preprocessor_schema(results["feature"].outputs["preprocessor"])
    print(f"--- smoke request: {rows} raw test rows to {deployment['url']}", flush=True)
    try:
        predictions = smoke_request(deployment["url"], test.head(rows)[list(schema.features)])
    except RuntimeError as error:
        raise StepFailed("smoke-request", deployment["endpoint_name"], 1, str(error)) from None
    for truth, prediction in zip(test.head(rows)[schema.target], predictions):
        print(f"  actual {truth!s:<8} predicted {json.dumps(prediction)}")
    return predictions


# the one file a person opens of an output, and its report for people
PRIMARY_FILES = {"model": "model.tar.gz", "evaluation": spec.EVALUATION_FILE, "registration": spec.DECISION_FILE,
                 "deployment": spec.DEPLOYMENT_FILE, "transform": spec.BATCH_TEST_FILE + ".out"}
REPORT_FILES = {"evaluation": spec.EVALUATION_REPORT, "drift": "drift_report.html", "registration": spec.COMPARISON_REPORT}


def output_paths(results: dict[str, StepResult]) -> dict[str, str]:
    """Each output's folder, or the one file a person opens of it, and its report for people."""
    outputs: dict[str, str] = {}
    for result in results.values():
        for output, path in result.outputs.items():
            primary = PRIMARY_FILES.get(output)
            outputs[output] = str(path / primary if primary and (path / primary).is_file() else path)
            page = REPORT_FILES.get(output)
            if page and (path / page).is_file():
                outputs[f"{output}_report"] = str(path / page)
    return outputs


def summarize(results: dict[str, StepResult], run_dir: Path, started: float) -> dict[str, Any]:
    report = evaluation_file.read(results["evaluation"].outputs["evaluation"])
    metadata = read_model_metadata(results["train"].outputs["model"])
    outputs = output_paths(results)
    drift = read_output_json(results, "drift", "drift", "constraint_violations.json")
    kind = metadata.get("kind", "binary")
    binary = report.get("binary_classification_metrics")
    return {
        "run_dir": str(run_dir),
        "kind": kind,  # binary, multiclass or regression
        "test_auc": binary["auc"]["value"] if binary else None,
        "gate": report["gate"],
        "validation": metadata["metrics"],
        "validation_auc": metadata["metrics"].get("validation_auc"),
        "validation_logloss": metadata["metrics"].get("validation_logloss"),
        "estimator": metadata.get("estimator"),
        "threshold": metadata["threshold"],
        "trees": metadata["params"]["trees"],
        "model_sha256": prefix_files(results["train"].outputs["model"])["model.tar.gz"],
        "registration": read_output_json(results, "register", "registration", spec.DECISION_FILE),
        "deployment": read_output_json(results, "deploy", "deployment", spec.DEPLOYMENT_FILE),
        "drift_violations": None if drift is None else drift["violations"],
        "outputs": outputs,
        "step_seconds": {name: round(r.seconds, 2) for name, r in results.items()},
        "cached_steps": [name for name, r in results.items() if r.cached],
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


def summarize_forecast(results: dict[str, StepResult], run_dir: Path, started: float) -> dict[str, Any]:
    """The forecast run in figures: MASE beside seasonal naive, the gate, what was fitted, where outputs are."""
    report = evaluation_file.read(results["evaluation"].outputs["evaluation"])
    metadata = read_model_metadata(results["train"].outputs["model"])
    section = report["forecast"]
    outputs = output_paths(results)
    return {
        "task": "forecast", "run_dir": str(run_dir), "gate": report["gate"],
        "mase": section["model"]["mase"], "mase_seasonal_naive": section["seasonal_naive"]["mase"],
        "series": section["series"], "season": section["season"], "horizon": section["horizon"],
        "methods": metadata.get("methods"), "interval_coverage": section["interval_coverage"],
        "model_sha256": prefix_files(results["train"].outputs["model"])["model.tar.gz"],
        "outputs": outputs,
        "step_seconds": {name: round(r.seconds, 2) for name, r in results.items()},
        "cached_steps": [name for name, r in results.items() if r.cached],
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


__all__ = ["GateFailed", "RunConfig", "run_pipeline", "score_on_endpoint", "smoke_test_endpoint", "summarize", "prefix_sha256"]
