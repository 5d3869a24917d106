"""scripts/drift.py as a processing job runs it: its own process, an /opt/ml tree under SAGEMAKER_BASE_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.storage import write_json
from monitoring import baseline
from monitoring_splits import random_split

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture()
def tree(tmp_path, lending_features):
    train, new = random_split(lending_features, seed=11)
    stats = baseline.statistics(train)
    base = tmp_path / "processing" / "input" / "baseline"
    write_json(base / "statistics.json", stats)
    write_json(base / "constraints.json", baseline.constraints(train, stats=stats))
    data = tmp_path / "processing" / "input" / "data"
    data.mkdir(parents=True)
    return tmp_path, new, data


def run_step(base_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base_dir), "PYTHONPATH": str(SCRIPTS)}
    return subprocess.run([sys.executable, str(SCRIPTS / "drift.py"), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_unshifted_table_passes_and_writes_every_output(tree):
    base_dir, new, data = tree
    new.assign(rownames=range(len(new))).to_csv(data / "batch.csv", index=False)
    done = run_step(base_dir, "--ignore-columns", "rownames", "--fail-on-violation", "true")
    assert done.returncode == 0, done.stderr
    out = base_dir / "processing" / "output" / "drift"
    assert json.loads((out / "constraint_violations.json").read_text()) == {"violations": []}
    assert sorted(p.name for p in out.iterdir()) == ["constraint_violations.json", "drift_report.html",
                                                     "drift_table.csv", "statistics.json"]
    assert "METRIC drift:violations=0.000000" in done.stdout


def test_captured_requests_with_drift_fail_when_asked(tree):
    base_dir, new, data = tree
    shifted = new.assign(annual_inc=new["annual_inc"] * 2)
    lines = []
    for start in range(0, len(shifted), 50):
        rows = shifted.iloc[start:start + 50].to_csv(index=False, header=False)
        lines.append(json.dumps({"captureData": {"endpointInput": {
            "observedContentType": "text/csv", "mode": "INPUT", "data": rows, "encoding": "CSV"}},
            "eventMetadata": {"eventId": str(start)}, "eventVersion": "0"}))
    (data / "capture.jsonl").write_text("\n".join(lines) + "\n")
    flagged_only = run_step(base_dir)
    assert flagged_only.returncode == 0, flagged_only.stderr
    violations = json.loads((base_dir / "processing/output/drift/constraint_violations.json").read_text())
    assert [v["feature_name"] for v in violations["violations"]] == ["annual_inc"]
    failed = run_step(base_dir, "--fail-on-violation", "true")
    assert failed.returncode == 2
    message = (base_dir / "output" / "message").read_text()
    assert message.startswith("CompletedWithViolations: 1 constraint violations (annual_inc: baseline_drift_check)")
