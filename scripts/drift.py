#!/usr/bin/env python3
"""Processing step: a batch of data (or captured endpoint requests) against the training baseline.

Inputs `baseline` (statistics.json + constraints.json, Model Monitor's formats) and `data` (CSV/Parquet
files, or SageMaker data-capture JSON lines `*.jsonl`). Output `drift`: constraint_violations.json
(Model Monitor's format), statistics.json of the data, drift_table.csv (PSI, Jensen-Shannon,
L-infinity per feature) and drift_report.html. With --fail-on-violation true the step fails (exit 2)
after writing them; otherwise it only flags.
"""

import json
from pathlib import Path

from contract import DataError, log_metric, processing_job, run_processing
from common.storage import read_tables, write_bytes, write_json, write_table
from monitoring import baseline, drift
from pipeline.spec import CLASSIFIER
from reporting import drift as drift_report

STEP = CLASSIFIER.step("drift")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"input 'baseline' has no {path.name} (expected {path})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not JSON: {exc}") from None


def _read_data(directory: Path, columns: list[str]):
    captures = sorted(p for p in directory.rglob("*.jsonl") if p.is_file())
    if captures:
        lines = (line for path in captures for line in path.read_text(encoding="utf-8").splitlines())
        return drift.read_capture(lines, columns), f"{len(captures)} capture files"
    return read_tables(directory), "tables"


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
    base = job.input(STEP.input("baseline").name)
    statistics = _read_json(base / "statistics.json")
    constraints = _read_json(base / "constraints.json")
    columns = [f["name"] for f in statistics["features"]]
    data, source = _read_data(job.input(STEP.input("data").name), columns)
    # columns clean excluded (identifiers, constants: the baseline names them) are not features either
    not_features = [*params["ignore_columns"], *statistics.get("excluded_columns", []),
                    *([params["target"]] if params["target"] else [])]
    data = data.drop(columns=[c for c in not_features if c in data.columns])
    thresholds = drift.Thresholds(
        psi=params["psi_threshold"], categorical_psi=params["categorical_psi_threshold"],
        domain_content=params["domain_content_threshold"], datatype=params["datatype_check_threshold"],
    )
    result = drift.check(data, statistics, constraints, thresholds)
    out = job.output(STEP.output("drift").name)
    roles = {f["name"]: f.get("role") for f in statistics["features"] if f["name"] in data.columns and f.get("role")}
    write_json(out / "constraint_violations.json", result.constraint_violations())
    write_json(out / "statistics.json", baseline.statistics(data[[c for c in columns if c in data.columns]], roles))
    write_table(result.table, out / "drift_table.csv")
    write_bytes(out / "drift_report.html", drift_report.render(result.table, result.violations, statistics, data).encode())
    flagged = int((result.table["status"] == "flagged").sum())
    log_metric("drift:flagged_features", flagged)
    log_metric("drift:violations", len(result.violations))
    print(f"drift: {len(data)} rows ({source}), {len(result.violations)} violations, {flagged} features flagged")
    if result.has_violations and params["fail_on_violation"]:
        first = "; ".join(f"{v['feature_name']}: {v['constraint_check_type']}" for v in result.violations[:5])
        raise DataError(f"CompletedWithViolations: {len(result.violations)} constraint violations ({first}); "
                        f"see constraint_violations.json")


if __name__ == "__main__":
    run_processing(main)
