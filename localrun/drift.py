"""python -m localrun.drift (make drift): new data, or what the endpoint captured, against a model's baselines.

The pipeline's drift step, run on its own as a processing job: `--data` is a CSV/Parquet file or
folder, or the endpoint's data capture (default: WORK_DIR/data-capture, JSON lines as SageMaker
writes them). The baselines are those of the package the endpoint serves (its DriftCheckBaselines,
from the local control plane) or, without one, the latest run's. Prints the violations and where
the table and the report are; exits 2 with --fail-on-violation when there is a violation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from pipeline import spec

from .engines import ProcessEngine
from .jobs import Job
from .runner import LocalSession, StepFailed

REPO = Path(__file__).resolve().parents[1]


def deployed_baseline(work: Path) -> tuple[Path, str] | None:
    """The baselines folder of the package the latest run's endpoint serves, if its control plane answers."""
    from .controlplane import daemon

    summary = work / "latest" / "summary.json"
    plane = daemon.status(work / "controlplane")
    if not (plane and summary.is_file()):
        return None
    deployment = json.loads(summary.read_text(encoding="utf-8")).get("deployment") or {}
    if not deployment.get("model_package_arn"):
        return None
    import boto3

    sm = boto3.client("sagemaker", endpoint_url=plane["url"], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    package = sm.describe_model_package(ModelPackageName=deployment["model_package_arn"])
    uri = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri or urlparse(uri).scheme != "file":
        return None
    return Path(urlparse(uri).path).parent, f"package {deployment['model_package_arn']}"


def latest_run(work: Path) -> tuple[Path, dict]:
    latest = (work / "latest").resolve()
    lineage = latest / "lineage.json"
    if not lineage.is_file():
        raise SystemExit(f"no successful run under {work}: `make run` first")
    return latest, json.loads(lineage.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.drift", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--data", type=Path, help="file or folder of rows, or captured requests (default: WORK_DIR/data-capture)")
    parser.add_argument("--baseline", type=Path, help="folder with statistics.json and constraints.json (default: see above)")
    parser.add_argument("--fail-on-violation", action="store_true", help="exit 2 when any constraint is violated")
    args = parser.parse_args(argv)

    work = args.work_dir.resolve()
    run_dir, lineage = latest_run(work)
    found = (args.baseline, "given") if args.baseline else deployed_baseline(work)
    if found is None:
        found = (run_dir / "s3" / "feature" / "baseline", f"run {run_dir.name}")
    baseline, source = found
    data = (args.data or work / "data-capture").resolve()
    if not data.exists():
        raise SystemExit(f"{data} does not exist (no captured requests yet? send some to the endpoint)")
    staged = work / "drift" / time.strftime("%Y%m%d-%H%M%S")
    folder = staged / "input"  # the job's input is a prefix: a single file goes into one of its own
    if data.is_file():
        folder.mkdir(parents=True)
        (folder / data.name).symlink_to(data)
    else:
        folder = data
    parameters = lineage.get("parameters", {})
    # the step only flags here, so that its outputs are kept either way; --fail-on-violation is the exit code
    arguments = {"target": parameters.get("Target", ""), "ignore_columns": parameters.get("IdColumns", "")}
    print(f"drift: {data} against the baselines of {source} ({baseline})", flush=True)
    try:
        result = LocalSession(staged, ProcessEngine()).run(
            Job(spec.CLASSIFIER.step("drift"), {"baseline": baseline, "data": folder}, arguments), use_cache=False)
    except StepFailed as failed:
        print(f"drift: {failed}", file=sys.stderr)
        return 1
    out = result.outputs["drift"]
    violations = json.loads((out / "constraint_violations.json").read_text(encoding="utf-8"))["violations"]
    print(f"DRIFT {len(violations)} violations")
    for violation in violations:
        print(f"  {violation['feature_name']}: {violation['constraint_check_type']}: {violation['description']}")
    print(f"  table  {out / 'drift_table.csv'}\n  report {out / 'drift_report.html'}")
    return 2 if violations and args.fail_on_violation else 0


if __name__ == "__main__":
    sys.exit(main())
