"""`python -m localrun`: a pipeline of the spec, run locally as SageMaker runs it.

    python -m localrun [--data FILE --target COL [--positive-label L]] [-p key=value] [--from STEP] [--no-cache]
    python -m localrun --task regression [--data FILE --target COL]
    python -m localrun --task forecast [--data FILE --series COL --time COL --value COL] [--horizon N] [--hosts N]
    python -m localrun --task forecast --synthetic 2000 --hosts 4    (seeded synthetic hourly servers)

After the gate, register and deploy talk to the local control plane (started on first use, state
under WORK_DIR/controlplane): the run prints the gate's decision and the endpoint's URL, and the
endpoint keeps serving after the run, as a real one does; `python -m localrun.controlplane stop
--state-dir WORK_DIR/controlplane` stops it (`make stop-endpoints`).

    python -m localrun runs                 every run: status, gate value, model SHA-256
    python -m localrun lineage MODEL        which run, data, code and parameters made this model
                                            (a model.tar.gz path or its SHA-256)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from common.storage import sha256_file
from pipeline import spec

from . import lineage
from .controlplane import ensure_running
from .cache import StepCache, prefix_files, prefix_sha256
from .engines import REPO, ProcessEngine
from .pipeline import (GateFailed, RunConfig, forecast_on_endpoint, local_account, run_pipeline, smoke_test_endpoint,
                       step_arguments, summarize, summarize_forecast)
from .runner import LocalSession, StepFailed

PIPELINE = spec.CLASSIFIER
LOCAL_IMAGES = {spec.TRAIN_IMAGE: "sagemaker-steps-train:latest", spec.PROCESS_IMAGE: "sagemaker-steps-process:latest"}
DEFAULT_DATA = (REPO / PIPELINE.parameter("InputData").default).resolve()
FORECAST_DATA = (REPO / spec.FORECAST.parameter("InputData").default).resolve()


def _pairs(items: list[str], what: str, parser: argparse.ArgumentParser) -> dict[str, object]:
    bad = [item for item in items if "=" not in item]
    if bad:
        parser.error(f"{what} takes KEY=VALUE, got {bad}")
    return {key.strip(): _literal(value) for key, value in (item.split("=", 1) for item in items)}


def _literal(text: str):
    """Values as the SDK would send them: numbers and booleans typed, the rest strings."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, RunConfig]:
    parser = argparse.ArgumentParser(prog="python -m localrun", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=spec.TASKS, default="classifier", help="the pipeline of this task")
    parser.add_argument("--data", type=Path, default=None, help="CSV/Parquet file or folder (default: lending_club; "
                        "forecast: us_employment)")
    parser.add_argument("--series", help="forecast: the series id column (default for us_employment: Series_ID)")
    parser.add_argument("--time", help="forecast: the timestamp column (us_employment: Month)")
    parser.add_argument("--value", help="forecast: the value column (us_employment: Employed)")
    parser.add_argument("--horizon", type=int, help="forecast: points to forecast (default 24)")
    parser.add_argument("--hosts", type=int, default=None, help="forecast: instances of the train step (each fits "
                        "its share of the series), and of clean when the input has a file for each: the same as "
                        "--param TrainInstanceCount=N (and CleanInstanceCount=N); classifier and regression: instances of clean, "
                        "each cleaning its files of a --data folder in the roles step's roles (--clean-instances N)")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N",
                        help="forecast: N seeded synthetic hourly servers (60 days) instead of --data")
    parser.add_argument("--target", help="target column (default for lending_club: Class)")
    parser.add_argument("--positive-label", help="positive target value of a binary target (default for lending_club: "
                        "bad); none for a multi-class target")
    parser.add_argument("--id-columns", default=None, help="comma-separated id columns to drop (lending_club: rownames)")
    roles = parser.add_argument_group("column roles (the roles step infers them once; clean's report shows them, with the evidence)")
    for flag, what in (("--numeric-columns", "numbers"), ("--categorical-columns", "categories"),
                       ("--text-columns", "free text (TF-IDF)"), ("--datetime-columns", "dates"),
                       ("--feature-columns", "features even if they look like identifiers or constants")):
        roles.add_argument(flag, default=None, metavar="A,B", help=f"comma-separated columns that are {what}")
    roles.add_argument("--roles", type=Path, default=None, metavar="FILE",
                       help='a roles file you keep: {"column": "role"} (or clean report\'s "roles" section)')
    roles.add_argument("--leakage", choices=("report", "refuse"), default=None,
                       help="a column that alone predicts the target almost perfectly: report (default) or refuse")
    parser.add_argument("--engine", choices=["process", "docker"], default="process")
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--clean-instances", type=int, default=None, help="instances for clean (input sharded by file)")
    parser.add_argument("--hyperparameter", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="training hyperparameter (repeatable), e.g. -p n_estimators=200")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help=f"pipeline parameter (repeatable): {', '.join(p.name for p in PIPELINE.parameters)}")
    parser.add_argument("--set", action="append", default=[], metavar="STEP.KEY=VALUE", help="any step's argument")
    parser.add_argument("--from", dest="rerun_from", choices=[s.name for s in PIPELINE.steps],
                        help="run this step and every later one again; earlier ones come from the cache")
    parser.add_argument("--no-cache", action="store_true", help="run every step again")
    args = parser.parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    args.state_dir = args.work_dir / "controlplane"
    if args.task == "forecast":
        return args, _forecast_config(args, parser)
    pipeline = spec.BY_TASK[args.task]  # classifier or regression: the tabular steps
    if args.hosts is not None:  # tabular: clean is the sharded step (each instance its files, the same roles)
        if args.hosts < 1:
            parser.error("--hosts must be at least 1")
        args.clean_instances = args.clean_instances or args.hosts
    default_data = (REPO / pipeline.parameter("InputData").default).resolve()
    data = (args.data or default_data).resolve()
    if not data.exists():
        parser.error(f"--data {args.data}: no such file or folder")
    parameters = _pairs(args.param, "--param", parser)
    if data == default_data:
        parameters.setdefault("IdColumns", args.id_columns if args.id_columns is not None else pipeline.parameter("IdColumns").default)
    else:
        if not (args.target or "Target" in parameters):
            parser.error("--target is required for data other than the default dataset (and --positive-label for a "
                         "binary target)")
        parameters.setdefault("IdColumns", args.id_columns or "")
        if any(p.name == "PositiveLabel" for p in pipeline.parameters):
            parameters.setdefault("PositiveLabel", "")  # the default data's label means nothing here
    for name, value in (("InputData", str(data)), ("Target", args.target), ("PositiveLabel", args.positive_label)):
        if value is not None:
            if name == "PositiveLabel" and args.task == "regression":
                parser.error("--positive-label means nothing for --task regression")
            parameters[name] = value
    if not parameters.get("DataCaptureS3Uri"):  # the local control plane captures to a folder
        parameters["DataCaptureS3Uri"] = (args.work_dir / "data-capture").as_uri()
    arguments = _step_arguments(args, parser)
    config = RunConfig(
        pipeline, parameters={k: str(v) if pipeline.parameter(k).type is str else v for k, v in parameters.items()},
        arguments=arguments, instance_counts={"clean": args.clean_instances} if args.clean_instances else {},
        rerun_from=args.rerun_from, use_cache=not args.no_cache,
    )
    config.control_plane = lambda: ensure_running(args.state_dir, args.engine)
    try:
        values = config.values()
        for step in pipeline.steps:
            step_arguments(step, values, arguments.get(step.name, {}))
    except KeyError as error:
        parser.error(error.args[0])
    return args, config


def _step_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, dict]:
    """--set STEP.KEY=VALUE and -p KEY=VALUE (the training step's hyperparameters), per step."""
    arguments: dict[str, dict] = {}
    for key, value in _pairs(args.set, "--set", parser).items():
        step, _, name = key.partition(".")
        arguments.setdefault(step, {})[name] = value
    arguments.setdefault("train", {}).update(_pairs(args.hyperparameter, "--hyperparameter", parser))
    clean = {name: getattr(args, name) for name in ("numeric_columns", "categorical_columns", "text_columns",
                                                    "datetime_columns", "feature_columns", "leakage")
             if getattr(args, name, None) is not None}
    if getattr(args, "roles", None) is not None:
        try:  # the file's content is the argument: the step's cache key follows it, and no path leaks into the job
            clean["roles"] = json.dumps(json.loads(args.roles.read_text(encoding="utf-8")), sort_keys=True)
        except (OSError, ValueError) as error:
            parser.error(f"--roles {args.roles}: {error}")
    for name, value in clean.items():  # the roles step infers the roles once, for every clean instance
        arguments.setdefault("roles", {}).setdefault(name, value)  # --set roles.KEY=VALUE wins
    return arguments


def _forecast_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunConfig:
    """The forecast pipeline's run: us_employment by default, any long-format file with its columns named."""
    pipeline = spec.FORECAST
    parameters = _pairs(args.param, "--param", parser)
    if args.synthetic:
        if args.data:
            parser.error("--synthetic and --data: give one")
        requested = args.hosts or parameters.get("TrainInstanceCount")
        args.data = synthetic_servers(args.work_dir / "data", args.synthetic,
                                      files=max(8, requested if isinstance(requested, int) else 1))
        args.series, args.time, args.value = args.series or "series", args.time or "timestamp", args.value or "value"
    data = (args.data or FORECAST_DATA).resolve()
    if not data.exists():
        parser.error(f"--data {args.data}: no such file or folder")
    if args.hosts is not None and args.hosts < 1:
        parser.error("--hosts must be at least 1")
    if data != FORECAST_DATA and not ((args.time or "TimeColumn" in parameters) and (args.value or "ValueColumn" in parameters)):
        parser.error("--time and --value (and --series, unless the file is one series) are required for data other "
                     "than the default dataset")
    if data != FORECAST_DATA:
        parameters.setdefault("SeriesColumn", args.series or "")
    for name, value in (("InputData", str(data)), ("SeriesColumn", args.series), ("TimeColumn", args.time),
                        ("ValueColumn", args.value), ("Horizon", args.horizon)):
        if value is not None:
            parameters[name] = value
    hosts = _forecast_hosts(args, parameters, data, parser)
    arguments = _step_arguments(args, parser)
    if hosts > 1:  # the simulated hosts share this machine: each gets its share of the cores
        arguments["train"].setdefault("workers", max(1, len(os.sched_getaffinity(0)) // hosts))
        # every host gets files of the train split (ShardedByS3Key): at least one file per host
        parameters.setdefault("TrainFiles", max(pipeline.parameter("TrainFiles").default, hosts))
    try:
        config = RunConfig(
            pipeline, parameters={k: str(v) if pipeline.parameter(k).type is str else v for k, v in parameters.items()},
            arguments=arguments, instance_counts={"clean": args.clean_instances} if args.clean_instances else {},
            rerun_from=args.rerun_from, use_cache=not args.no_cache,
        )
        values = config.values()
        for step in pipeline.steps:
            step_arguments(step, values, arguments.get(step.name, {}))
    except KeyError as error:
        parser.error(error.args[0])
    return config


def _forecast_hosts(args: argparse.Namespace, parameters: dict, data: Path, parser: argparse.ArgumentParser) -> int:
    """--hosts N is the pipeline parameter TrainInstanceCount=N (as in the definition), and CleanInstanceCount=N
    when the input (sharded by key) has a file per host; --param values are the same and win. The train hosts."""
    if args.hosts and parameters.get("TrainInstanceCount", args.hosts) != args.hosts:
        parser.error(f"--hosts {args.hosts} and --param TrainInstanceCount={parameters['TrainInstanceCount']}: give one")
    hosts = args.hosts if args.hosts else parameters.get("TrainInstanceCount", 1)
    if not isinstance(hosts, int) or hosts < 1:
        parser.error(f"TrainInstanceCount {hosts!r}: a whole number of 1 or more")
    parameters["TrainInstanceCount"] = hosts
    files = len(prefix_files(data)) if data.is_dir() else 1
    if hosts > 1 and not args.clean_instances and "CleanInstanceCount" not in parameters and files >= hosts:
        parameters["CleanInstanceCount"] = hosts
    return hosts


def synthetic_servers(directory: Path, n_series: int, files: int = 8) -> Path:
    """The seeded generator's N hourly servers as `files` CSV files (each series in one file, as sharding
    by key needs), written once per size under `directory`."""
    from tasks.forecast import synthetic

    folder, complete = directory / f"synthetic-{n_series}", directory / f"synthetic-{n_series}.complete"
    if complete.is_file():  # beside the folder, not in it: every file in it is an input object
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = synthetic.generate(n_series, days=60, seed=0)
    ids = sorted(rows["series"].unique())
    for k in range(min(files, len(ids))):
        part = rows[rows["series"].isin(ids[k::files])]
        part.to_csv(folder / f"servers-{k:03d}.csv", index=False)
    complete.write_text("")
    print(f"--- synthetic data: {n_series} hourly servers, 60 days, seed 0, in {folder}", flush=True)
    return folder


def _engine(name: str, work_dir: Path):
    if name == "docker":
        from .docker_engine import DockerEngine

        engine = DockerEngine()
        engine.shared = (work_dir,)  # the runs' local "S3" and the control plane's store, read-only
        return engine
    return ProcessEngine()


class Interrupted(Exception):
    pass


def run(argv: list[str]) -> int:
    args, config = parse_args(argv)
    engine = _engine(args.engine, args.work_dir)
    runs = args.work_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=runs))  # unique per run
    config.account = local_account(getattr(engine, "images", None) or LOCAL_IMAGES)
    version = lineage.git_version(REPO)
    if version["git_commit"]:  # into the package's metadata, as the cloud build would put it
        commit = version["git_commit"] + ("-dirty" if version["dirty"] else "")
        config.arguments.setdefault("register", {}).setdefault("git_commit", commit)
    values = config.values()
    data_prefix = Path(values["InputData"])
    record = lineage.Recorder(run_dir, {
        "pipeline": config.pipeline.name, "engine": args.engine, "parameters": values,
        "arguments": config.arguments, "code": lineage.git_version(REPO),
        "data": {"path": str(data_prefix), "sha256": prefix_sha256(prefix_files(data_prefix) if data_prefix.is_dir()
                                                                     else {data_prefix.name: sha256_file(data_prefix)})},
    })
    session = LocalSession(run_dir, engine, StepCache(args.work_dir / "cache"), record)

    def stop(signum, frame):  # noqa: ARG001 - SIGTERM/Ctrl-C: stop the running job as SageMaker would
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        engine.stop_all()  # SIGTERM to each job's process group, then wait: what StopProcessingJob does
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.perf_counter()
    try:
        results = run_pipeline(config, session)
        forecast = config.pipeline.task == "forecast"
        if forecast:
            summary = summarize_forecast(results, run_dir, started)
            summary["endpoint_forecasts"] = forecast_on_endpoint(session, results)
        else:
            summary = summarize(results, run_dir, started)
            deployment = summary["deployment"]
            if deployment and deployment.get("url"):
                summary["endpoint_predictions"] = smoke_test_endpoint(results, deployment)
        summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    except (StepFailed, GateFailed, Interrupted) as failure:
        record.finish("stopped" if isinstance(failure, Interrupted) else "failed", error=str(failure))
        what = f"stopped by {failure}" if isinstance(failure, Interrupted) else str(failure)
        print(f"\nPIPELINE FAILED: {what}  (run {run_dir}; {args.work_dir / 'latest'} unchanged)", file=sys.stderr)
        return 130 if isinstance(failure, Interrupted) else 1
    record.finish("succeeded", model_sha256=summary["model_sha256"])
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    _point_latest(args.work_dir, run_dir)  # only a run that succeeded becomes `latest`
    if forecast:
        print_forecast(summary)
        return 0
    print_outputs("=== local pipeline finished ===", summary)
    print_roles(summary["outputs"].get("cleaned"))
    print(f"target: {summary['kind']}; " + ", ".join(f"{name.replace('_', ' ')} {value:.4f}"
                                                    for name, value in summary["validation"].items()))
    print(f"model sha256 {summary['model_sha256']}  (python -m localrun lineage {summary['model_sha256'][:12]}…)")
    gate = summary["gate"]
    print(f"TEST {gate['metric'].upper()} {gate['value'] if gate['value'] is None else format(gate['value'], '.4f')}  "
          f"(wall time {summary['wall_seconds']:.1f} s, run {run_dir})")
    for page in ("evaluation_report", "registration_report"):
        if page in summary["outputs"]:
            print(f"REPORT {summary['outputs'][page]}")
    if summary["drift_violations"] is not None:
        violations = summary["drift_violations"]
        print(f"DRIFT test split against the training baseline: {len(violations)} violations"
              + "".join(f"\n  {v['feature_name']}: {v['constraint_check_type']}: {v['description']}" for v in violations[:5]))
    print_decision(summary, args.state_dir)
    return 0


def print_roles(cleaned: str | None) -> None:
    """The column roles clean inferred or was given (its report holds the evidence and thresholds)."""
    reports = sorted(Path(cleaned).glob("report-*.json")) if cleaned else []
    found = json.loads(reports[0].read_text()).get("roles") if reports else None
    if not found:
        return
    by_role: dict[str, list[str]] = {}
    for column, role in found["roles"].items():
        by_role.setdefault(role, []).append(column)

    def names(columns: list[str], shown: int = 6) -> str:  # a wide file's 300 columns in one line
        return ", ".join(columns[:shown]) + (f" and {len(columns) - shown} more" if len(columns) > shown else "")

    kept = "; ".join(f"{role} {names(cs)}" for role, cs in by_role.items() if role not in ("identifier", "constant"))
    excluded = "; ".join(f"{role} {names(cs)}" for role, cs in by_role.items() if role in ("identifier", "constant"))
    suspects = ", ".join(found.get("leakage_suspects", [])) or "none"
    print(f"ROLES {kept}; excluded: {excluded or 'none'}; leakage suspects: {suspects}  ({reports[0]})")


def print_outputs(title: str, summary: dict) -> None:
    """Where every output is, and each step's time (or that it came from the cache)."""
    print(f"\n{title}")
    for name, path in summary["outputs"].items():
        print(f"  {name:<12} {path}")
    cached = f", cached: {', '.join(summary['cached_steps'])}" if summary["cached_steps"] else ""
    print(f"  steps (s)    {json.dumps(summary['step_seconds'])}{cached}")


def print_forecast(summary: dict) -> None:
    print_outputs("=== local pipeline finished (forecast) ===", summary)
    print(f"{summary['series']} series, season {summary['season']}, horizon {summary['horizon']}, methods {summary['methods']}")
    print(f"model sha256 {summary['model_sha256']}")
    if "evaluation_report" in summary["outputs"]:
        print(f"REPORT {summary['outputs']['evaluation_report']}")
    print(f"TEST MASE {summary['mase']} against seasonal naive's {summary['mase_seasonal_naive']}: skill "
          f"{summary['gate']['value']} (wall time {summary['wall_seconds']:.1f} s, run {summary['run_dir']})")


def print_decision(summary: dict, state_dir: Path) -> None:
    """The gate's decision and what serves now: a challenger that is not approved is a result, not a failure."""
    decision, deployment = summary.get("registration"), summary.get("deployment")
    if decision:
        new = "registered" if decision.get("registered", True) else "already registered"
        print(f"REGISTRY {decision['status']}: {decision['model_package_arn']} ({new}): {decision['reason']}")
    if deployment and deployment.get("url"):
        print(f"ENDPOINT {deployment['endpoint_name']} {deployment['action']}, serving "
              f"{deployment['model_package_arn']}: {deployment['url']}")
        print(f"  it keeps serving after this run; stop it with: "
              f"python -m localrun.controlplane stop --state-dir {state_dir}  (make stop-endpoints)")
    elif deployment:
        print(f"ENDPOINT none: {deployment.get('reason')}")


def _point_latest(work_dir: Path, run_dir: Path) -> None:
    tmp = work_dir / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.relative_to(work_dir))
    tmp.replace(work_dir / "latest")  # one rename: `make serve` never sees no latest


def list_runs(work_dir: Path) -> int:
    for manifest in lineage.manifests(work_dir):
        gate = manifest.get("gate") or {}
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest["started"]))
        print(f"{Path(manifest['run']).name:<28} {started}  {manifest['status']:<9} "
              f"gate {gate.get('value', '-')!s:<20} model {(manifest.get('model_sha256') or '-')[:16]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["runs"], ["lineage"]):
        parser = argparse.ArgumentParser(prog=f"python -m localrun {argv[0]}")
        parser.add_argument("--work-dir", type=Path, default=REPO / "work")
        if argv[0] == "lineage":
            parser.add_argument("model", help="a model.tar.gz or its SHA-256 (a prefix of 8+ characters works)")
        args = parser.parse_args(argv[1:])
        if argv[0] == "runs":
            return list_runs(args.work_dir)
        found = lineage.find_model(args.work_dir, args.model)
        if not found:
            print(f"no run under {args.work_dir} produced model {args.model}", file=sys.stderr)
            return 1
        print(lineage.describe(found))
        return 0
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
