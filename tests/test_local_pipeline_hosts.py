"""A folder of files through the whole local pipeline with clean on two instances (`make run HOSTS=2`):
the roles step infers the roles once, both clean hosts apply them, feature merges their shards."""

import json
from pathlib import Path

import pytest

from bench.text_data import generate
from tests.local_runs import run_pipeline, summary_of

pytestmark = pytest.mark.timeout(2400)


@pytest.mark.slow
def test_clean_on_two_hosts_applies_the_roles_inferred_once(tmp_path):
    from localrun.controlplane import daemon

    frame = generate(rows=3000, seed=11)
    # the store codes: 60 in one file, 200 in the other; per-host inference disagreed on their role
    frame["store"] = [f"s{k % 60}" for k in range(1500)] + [f"s{k % 200}" for k in range(1500)]
    data = tmp_path / "reviews"
    data.mkdir()
    frame.iloc[:1500].to_csv(data / "part-0.csv", index=False)
    frame.iloc[1500:].to_csv(data / "part-1.csv", index=False)
    work = tmp_path / "work"
    try:
        result = run_pipeline(work, "--data", str(data), "--target", "returned", "--positive-label", "yes",
                              "--hosts", "2")
    finally:
        daemon.stop(work / "controlplane")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--- roles (ProcessingStep, roles.py, 1 instance(s))" in result.stdout
    assert "--- clean (ProcessingStep, clean.py, 2 instance(s))" in result.stdout
    cleaned = Path(summary_of(work)["outputs"]["cleaned"])
    schemas = [json.loads((cleaned / f"schema-algo-{k}.json").read_text()) for k in (1, 2)]
    assert schemas[0]["roles"] == schemas[1]["roles"]
    assert schemas[0]["roles"]["store"] == "high_cardinality" and schemas[0]["roles"]["review"] == "text"
    assert sum(s["class_counts"]["yes"] + s["class_counts"]["no"] for s in schemas) == 3000
    assert summary_of(work)["gate"]["value"] > 0.8
