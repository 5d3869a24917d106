"""The SDK's Transformer in local mode runs the serving image as a Batch Transform container and gets the
scores the project's own transform step wrote (runner_run: localrun on lending_club, the same model).

Where local mode differs from the platform (../shared/notes on batch transform), the test names it:
- it lists only the top level of the input: a file in a sub-folder is not transformed (the platform and
  localrun keep sub-paths);
- it sends one request at a time and appends a newline per response, not per record: the server answers
  each mini-batch with one line per record and no final newline, so the .out is the platform's either way;
- it ignores DataProcessing, so the input here holds the features only (the pipeline's transform sends them
  with InputFilter $[1:] from a target-first file, and its .out joins the target back).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.conformance


def test_transformer_in_local_mode_scores_as_the_runners_transform_step(sdk, train_image, runner_run, tmp_path):
    batch = runner_run / "s3" / "feature" / "batch" / "test.csv"
    runner_out = runner_run / "s3" / "transform" / "transform" / "test.csv.out"
    data = tmp_path / "in"
    (data / "nested").mkdir(parents=True)
    features = [line.split(",", 1)[1] for line in batch.read_text().splitlines()]  # the target column dropped
    (data / "test.csv").write_text("\n".join(features) + "\n")
    (data / "nested" / "more.csv").write_text("\n".join(features[:10]) + "\n")
    result, log = sdk({
        "kind": "transform", "image": train_image, "model_tar": str(runner_run / "s3" / "train" / "model" / "model.tar.gz"),
        "data": str(data), "output_dir": str(tmp_path / "out"), "strategy": "MultiRecord",
        "environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
    })
    outs = [p for p in result["outs"] if p.endswith("test.csv.out")]
    assert len(outs) == 1, result
    got = open(outs[0]).read().splitlines()
    expected = [line.split(",", 1)[1] for line in runner_out.read_text().splitlines()]  # the joined target dropped
    assert len(got) == len(features) and got == expected  # line for line, byte for byte
    # local mode's difference: the sub-folder's file was not transformed (the platform would write nested/more.csv.out)
    assert not any(p.endswith("more.csv.out") for p in result["outs"])


def test_the_local_runners_docker_engine_runs_the_image_per_instance_on_its_own_port(engine, train_image, runner_run, tmp_path):
    """localrun.transform on the docker engine: two instances of the serving image on the host network, each
    with its own SAGEMAKER_BIND_TO_PORT; the .out files equal the process engine's (the runner's step)."""
    from localrun.docker_engine import DockerEngine
    from localrun.transform import TransformJob, raise_for_failures, run_transform

    batch = runner_run / "s3" / "feature" / "batch" / "test.csv"
    lines = batch.read_text().splitlines()
    data = tmp_path / "in"
    data.mkdir()
    for part in range(3):
        (data / f"part-{part}.csv").write_text("\n".join(lines[part::3]) + "\n")
    job = TransformJob(data=data, output=tmp_path / "out", model_tar=runner_run / "s3" / "train" / "model" / "model.tar.gz",
                       instances=2, input_filter="$[1:]", join_source="Input", output_filter="$[0,-2,-1]",
                       batch_strategy="MultiRecord", environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
    result = raise_for_failures(run_transform(job, tmp_path / "job", DockerEngine(train_image=train_image, client=engine)))
    assert {o.instance for o in result.objects} == {"algo-1", "algo-2"}
    expected = (runner_run / "s3" / "transform" / "transform" / "test.csv.out").read_text().splitlines()
    for part in range(3):
        assert (tmp_path / "out" / f"part-{part}.csv.out").read_text().splitlines() == expected[part::3]
