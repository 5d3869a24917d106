"""The generated SageMaker Pipeline definition agrees with the spec, the scripts, the images and AWS's
service model; it is byte-stable; a step added to the spec appears in it with no other edit."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from tests.pipelines.conftest import REPO, pipelines_python, run_pipelines_python

from contract import jobs as contract_jobs
from contract.metrics import metric_definition
from pipeline import evaluation_file, spec
from pipelines import validate

PIPELINE = spec.CLASSIFIER


def steps_by_name(definition: dict) -> dict[str, dict]:
    return {step["Name"]: step for step in validate.all_steps(definition["Steps"])}


def parameters_of(definition: dict) -> dict[str, dict]:
    return {p["Name"]: p for p in definition["Parameters"]}


def image_role(step: dict) -> str:
    """The image a step runs, from the parameter its image URI reads: ProcessImageUri -> process."""
    arguments = step["Arguments"]
    image = arguments["AppSpecification"]["ImageUri"] if step["Type"] == "Processing" else arguments["AlgorithmSpecification"]["TrainingImage"]
    (name,) = re.fullmatch(r"Parameters\.([A-Za-z]+)ImageUri", image["Get"]).groups()
    return name.lower()


def dockerfile_copies(role: str) -> dict[str, str]:
    """COPY <source> <destination> lines of Dockerfile.<role> (final stage included)."""
    text = (REPO / f"Dockerfile.{role}").read_text()
    return {dest: src for src, dest in re.findall(r"^COPY (?:--from=\S+ )?(\S+) (\S+)$", text, re.MULTILINE)}


def script_in_image(role: str, container_path: str) -> Path:
    """The repository file a container path comes from, by the image's COPY lines."""
    for destination, source in dockerfile_copies(role).items():
        if container_path.startswith(destination.rstrip("/") + "/") and not source.startswith("/"):
            return REPO / source / container_path[len(destination.rstrip("/")) + 1:]
    raise AssertionError(f"{container_path} is copied into no directory of Dockerfile.{role}")


# ---- the service model ---------------------------------------------------------------------------
def test_the_definition_is_valid_against_the_sagemaker_service_model(definition):
    assert validate.problems(definition) == []


def test_every_spec_step_is_a_job_of_its_kind_and_the_gate_follows(definition):
    steps = steps_by_name(definition)
    kinds = {spec.TrainingStep: "Training", spec.ProcessingStep: "Processing", spec.TransformStep: "Transform"}
    for step in PIPELINE.steps:
        assert steps[step.name]["Type"] == kinds[type(step)]
    top = [s.name for s in PIPELINE.steps if not s.on_gate_pass]
    assert [s["Name"] for s in definition["Steps"]] == top + ["evaluation-gate"]
    gated = [s["Name"] for s in steps["evaluation-gate"]["Arguments"]["IfSteps"]]
    assert [s.name for s in PIPELINE.steps if s.on_gate_pass] == ["register", "deploy", "transform"]
    assert gated == ["register", "deploy", "transform-model", "transform"]  # a transform: its CreateModel step first


# ---- the images run what the definition names ----------------------------------------------------
def test_every_entrypoint_is_a_script_present_in_the_image_it_names(definition):
    for name, step in steps_by_name(definition).items():
        if step["Type"] == "Processing":
            role = image_role(step)
            entrypoint = step["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
            assert entrypoint[0] == "python3" and len(entrypoint) == 2
            source = script_in_image(role, entrypoint[1])
            assert source.is_file(), f"step {name}: {entrypoint[1]} comes from {source}, which does not exist"
            assert source.relative_to(REPO / "scripts").as_posix() == PIPELINE.step(name).script
        elif step["Type"] == "Training":
            role = image_role(step)
            program = step["Arguments"]["Environment"]["SAGEMAKER_PROGRAM"]
            copies = dockerfile_copies(role)
            # the toolkit runs SAGEMAKER_PROGRAM from /opt/ml/code, which the train image links to /opt/program
            assert "ln -s /opt/program /opt/ml/code" in (REPO / f"Dockerfile.{role}").read_text()
            assert script_in_image(role, f"/opt/program/{program}").is_file()
            assert copies["/opt/venv/bin/train"] == "containers/sagemaker-train.sh"  # `train`: what SageMaker runs
            assert program == PIPELINE.step(name).script


def test_each_step_script_takes_its_names_from_its_spec_step():
    for step in PIPELINE.steps:
        if isinstance(step, spec.TransformStep):
            continue  # the serving image's `serve`
        text = (REPO / "scripts" / step.script).read_text()
        assert f'CLASSIFIER.step("{step.name}")' in text, f"{step.script} does not read its names from spec step '{step.name}'"


# ---- names and paths are what the scripts read and write -----------------------------------------
def test_processing_inputs_and_outputs_are_the_spec_names_at_the_contract_paths(definition):
    steps = steps_by_name(definition)
    for step in PIPELINE.steps:
        if not isinstance(step, spec.ProcessingStep):
            continue
        arguments = steps[step.name]["Arguments"]
        inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
        assert list(inputs) == [i.name for i in step.inputs]
        for item in step.inputs:
            assert inputs[item.name]["LocalPath"] == f"/opt/ml/processing/input/{item.name}"
            assert inputs[item.name]["S3DataDistributionType"] == item.distribution
        outputs = {o["OutputName"]: o["S3Output"] for o in arguments["ProcessingOutputConfig"]["Outputs"]}
        assert list(outputs) == [o.name for o in step.outputs]
        for name, output in outputs.items():
            assert output["LocalPath"] == f"/opt/ml/processing/output/{name}"


def test_contract_jobs_finds_every_input_and_output_where_sagemaker_puts_them(definition, tmp_path, monkeypatch):
    """processingjobconfig.json as SageMaker writes it from each step's request, read by the real contract."""
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    for step in PIPELINE.steps:
        if not isinstance(step, spec.ProcessingStep):
            continue
        arguments = steps_by_name(definition)[step.name]["Arguments"]
        config = {key: arguments[key] for key in ("ProcessingInputs", "ProcessingOutputConfig")}
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "processingjobconfig.json").write_text(json.dumps(config))
        for item in step.inputs:
            (tmp_path / "processing" / "input" / item.name).mkdir(parents=True, exist_ok=True)
        job = contract_jobs.processing_job([])
        for item in step.inputs:
            assert job.input(item.name) == tmp_path / "processing" / "input" / item.name
            assert (item.name in job.sharded_inputs) == (item.distribution == spec.SHARDED_BY_S3_KEY)
        for output in step.outputs:
            assert job.output(output.name) == tmp_path / "processing" / "output" / output.name


def test_training_channels_hyperparameters_metrics_spot_and_checkpoints(definition):
    (train,) = [s for s in PIPELINE.steps if isinstance(s, spec.TrainingStep)]
    arguments = steps_by_name(definition)[train.name]["Arguments"]
    channels = {c["ChannelName"]: c for c in arguments["InputDataConfig"]}
    assert list(channels) == [i.name for i in train.inputs]
    assert {c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in channels.values()} == {spec.FULLY_REPLICATED}
    assert arguments["AlgorithmSpecification"]["MetricDefinitions"] == [metric_definition(m) for m in train.metrics]
    assert arguments["EnableManagedSpotTraining"] is True
    stopping = arguments["StoppingCondition"]
    assert stopping == {"MaxRuntimeInSeconds": {"Get": "Parameters.TrainMaxRuntimeSeconds"},
                        "MaxWaitTimeInSeconds": {"Get": "Parameters.TrainMaxWaitSeconds"}}
    assert arguments["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    # no execution id in the checkpoint location: it is part of SageMaker's cache key for training
    assert "Execution." not in json.dumps(arguments["CheckpointConfig"])
    assert "Steps.feature.ProcessingJobName" in json.dumps(arguments["CheckpointConfig"])
    assert arguments.get("HyperParameters", {}) == {f"{k}": {"Get": f"Parameters.{v}"} for k, v in train.bind.items()}
    parameters = parameters_of(definition)
    assert parameters["TrainMaxRuntimeSeconds"]["DefaultValue"] == train.max_run_seconds
    assert parameters["TrainMaxWaitSeconds"]["DefaultValue"] == train.max_wait_seconds


def test_bound_step_parameters_are_container_arguments_from_pipeline_parameters(definition):
    def argument(parameter: str):
        get = {"Get": f"Parameters.{parameter}"}
        # ContainerArguments are strings: a number parameter goes in through Std:Join
        return get if PIPELINE.parameter(parameter).type is str else {"Std:Join": {"On": "", "Values": [get]}}

    for step in PIPELINE.steps:
        if isinstance(step, spec.ProcessingStep):
            arguments = steps_by_name(definition)[step.name]["Arguments"]["AppSpecification"].get("ContainerArguments", [])
            bound = {name: argument(parameter) for name, parameter in step.bind.items()}
            roles = {spec.ACCOUNT_ROLE: "RoleArn", spec.ACCOUNT_MODEL_ROLE: "ModelRoleArn"}
            bound |= {name: {"Get": f"Parameters.{roles[value]}" if value in roles else
                             f"Parameters.{value.split(':')[1].capitalize()}ImageUri"}
                      for name, value in step.bind_account.items()}
            bound |= {name: str(value) for name, value in step.fixed.items()}
            expected = [t for name, value in sorted(bound.items()) for t in (f"--{name}", value)]
            assert arguments == expected + (["--backend", "sagemaker"] if step.sagemaker_api else [])


def test_register_and_deploy_talk_to_sagemaker_with_the_gates_floor_the_train_image_and_the_role(definition):
    steps = steps_by_name(definition)
    register = steps["register"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    pairs = dict(zip(register[::2], register[1::2]))
    assert pairs["--floor"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.GateFloor"}]}}  # one floor
    assert pairs["--image_uri"] == {"Get": "Parameters.TrainImageUri"} and pairs["--backend"] == "sagemaker"
    deploy = steps["deploy"]["Arguments"]
    pairs = dict(zip(deploy["AppSpecification"]["ContainerArguments"][::2], deploy["AppSpecification"]["ContainerArguments"][1::2]))
    # the endpoint's Model runs as its own role (iam/serve.json), not the jobs': ModelRoleArn, RoleArn by default
    assert pairs["--role_arn"] == {"Get": "Parameters.ModelRoleArn"} and "--endpoint_url" not in pairs
    parameters = parameters_of(definition)
    assert parameters["ModelRoleArn"]["DefaultValue"] == parameters["RoleArn"]["DefaultValue"]
    # deploy reads register's decision, so it runs after it
    (source,) = deploy["ProcessingInputs"]
    assert source["S3Input"]["S3Uri"] == {"Get": "Steps.register.ProcessingOutputConfig.Outputs['registration'].S3Output.S3Uri"}
    capture = parameters_of(definition)["DataCaptureS3Uri"]["DefaultValue"]
    assert capture.startswith("s3://") and capture.endswith("/classifier/data-capture")


def test_parameters_cover_the_spec_and_what_an_account_needs(definition):
    parameters = parameters_of(definition)
    for parameter in PIPELINE.parameters:
        assert parameter.name in parameters
    assert parameters["InputData"]["DefaultValue"].startswith("s3://")
    assert parameters["GateFloor"] == {"Name": "GateFloor", "Type": "Float", "DefaultValue": 0.7}
    for name in ("ArtifactsS3Uri", "RoleArn", "ProcessImageUri", "TrainImageUri", "ProcessingInstanceType",
                 "TrainingInstanceType", "CleanInstanceCount", "EnableNetworkIsolation", "ProcessingMaxRuntimeSeconds"):
        assert name in parameters
    for step in PIPELINE.steps:
        assert parameters[f"{step.name.capitalize()}InstanceCount"]["DefaultValue"] == step.instance_count


def test_caching_with_an_expiry_on_cacheable_steps_only(definition):
    for name, step in steps_by_name(definition).items():
        if step["Type"] in ("Processing", "Training") and PIPELINE.step(name).cacheable:
            assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
        else:
            assert "CacheConfig" not in step
    assert {s.name for s in PIPELINE.steps if not s.cacheable} == {"register", "deploy", "transform"}  # side effects


# ---- the gate ------------------------------------------------------------------------------------
def test_the_gate_compares_the_evaluation_files_json_path_with_the_floor_parameter(definition):
    gate = PIPELINE.gate
    steps = steps_by_name(definition)
    (property_file,) = steps[gate.step]["PropertyFiles"]
    assert property_file == {"PropertyFileName": "EvaluationFile", "OutputName": gate.output, "FilePath": gate.file}
    (condition,) = steps["evaluation-gate"]["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"] == {"Std:JsonGet": {
        "PropertyFile": {"Get": f"Steps.{gate.step}.PropertyFiles.EvaluationFile"}, "Path": gate.json_path}}
    assert condition["RightValue"] == {"Get": f"Parameters.{gate.parameter}"}
    assert [s["Name"] for s in steps["evaluation-gate"]["Arguments"]["IfSteps"]] == ["register", "deploy", "transform-model", "transform"]
    (fail,) = steps["evaluation-gate"]["Arguments"]["ElseSteps"]
    assert fail["Type"] == "Fail" and gate.fail_message in json.dumps(fail["Arguments"]["ErrorMessage"])


@pytest.fixture(scope="module")
def produced_evaluation(cached_runs) -> Path:
    """evaluation.json as the real steps produce it (the session's first local run: penguins, 20 trees)."""
    _, runs = cached_runs
    summary, _ = runs[0]
    return Path(summary["outputs"]["evaluation"])


@pytest.mark.timeout(2400)  # may be the first to need the session's local runs
def test_the_gates_json_path_resolves_in_the_evaluation_file_the_real_step_writes(definition, produced_evaluation):
    steps = steps_by_name(definition)
    (property_file,) = steps["evaluation"]["PropertyFiles"]
    assert produced_evaluation.name == property_file["FilePath"]
    (condition,) = steps["evaluation-gate"]["Arguments"]["Conditions"]
    path = condition["LeftValue"]["Std:JsonGet"]["Path"]
    value = evaluation_file.json_get(json.loads(produced_evaluation.read_text()), path)
    assert isinstance(value, float) and 0.5 < value <= 1.0


# ---- stable bytes --------------------------------------------------------------------------------
def test_byte_stable_across_processes_and_checkouts_in_different_directories(definition_text, tmp_path):
    """Two copies of the code in other directories, each compiled by its own process, in parallel."""
    import os
    import subprocess

    processes = []
    for checkout in ("one", "elsewhere/two"):
        root = tmp_path / checkout
        for part in ("scripts", "pipelines"):
            shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        code = ("import sys, pipelines, pipeline.spec; from pipelines.__main__ import main; "
                "print(pipelines.__file__, pipeline.spec.__file__, file=sys.stderr); sys.exit(main(['definition']))")
        env = {**os.environ, "PYTHONPATH": f"{root / 'scripts'}:{root}"}
        processes.append((root, subprocess.Popen([str(pipelines_python()), "-c", code], cwd=root, env=env, text=True,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for root, process in processes:
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
        # the copy's code compiled it, not the repository's
        assert f"{root / 'pipelines' / '__init__.py'} {root / 'scripts' / 'pipeline' / 'spec.py'}" in stderr
        assert stdout == definition_text


# ---- the spec drives it --------------------------------------------------------------------------
def test_a_step_added_to_the_spec_appears_in_the_definition_with_no_other_edit(definition, compiled):
    """pipelines_compile_all.extended_pipeline: the classifier plus `report` and a gated `publish`."""
    extended = json.loads(compiled["extended"])
    assert validate.problems(extended) == []
    steps = steps_by_name(extended)
    report = steps["report"]["Arguments"]
    assert report["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/program/evaluation.py"]
    (source,) = report["ProcessingInputs"]
    assert source["S3Input"]["S3Uri"] == {"Get": "Steps.evaluation.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert steps["report"]["CacheConfig"]["Enabled"] is True
    # an on_gate_pass step with side effects: inside the gate's passing branch, never cached
    gate = steps["evaluation-gate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["register", "deploy", "transform-model", "transform", "publish"]
    assert "CacheConfig" not in steps["publish"]
    assert "PublishInstanceCount" in parameters_of(extended) and "ReportInstanceCount" in parameters_of(extended)
    # what was there before is unchanged
    for name, step in steps_by_name(definition).items():
        if name != "evaluation-gate":
            assert steps[name] == step


def test_account_options_become_parameters_and_request_fields(compiled):
    """pipelines_compile_all.ACCOUNT_OPTIONS: role, bucket, VPC, KMS keys, isolation, tags, defaults, expiry."""
    definition = json.loads(compiled["account"])
    assert validate.problems(definition) == []
    parameters = parameters_of(definition)
    assert parameters["RoleArn"]["DefaultValue"] == "arn:aws:iam::123456789012:role/pipelines"
    assert parameters["ArtifactsS3Uri"]["DefaultValue"] == "s3://my-ml-bucket/classifier"
    assert parameters["InputData"]["DefaultValue"] == "s3://my-ml-bucket/raw/"
    assert parameters["GateFloor"]["DefaultValue"] == 0.75
    assert parameters["EnableNetworkIsolation"]["DefaultValue"] is True
    assert parameters["VolumeKmsKeyId"]["DefaultValue"] == "alias/ml-volumes"
    steps = steps_by_name(definition)
    clean, train = steps["clean"]["Arguments"], steps["train"]["Arguments"]
    assert clean["NetworkConfig"]["VpcConfig"] == {"Subnets": ["subnet-0abc"], "SecurityGroupIds": ["sg-0def"]}
    assert clean["NetworkConfig"]["EnableNetworkIsolation"] == {"Get": "Parameters.EnableNetworkIsolation"}
    assert clean["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == {"Get": "Parameters.VolumeKmsKeyId"}
    assert clean["ProcessingOutputConfig"]["KmsKeyId"] == {"Get": "Parameters.OutputKmsKeyId"}
    assert train["VpcConfig"] == {"Subnets": ["subnet-0abc"], "SecurityGroupIds": ["sg-0def"]}
    assert train["OutputDataConfig"]["KmsKeyId"] == {"Get": "Parameters.OutputKmsKeyId"}
    assert {"Key": "team", "Value": "ml"} in clean["Tags"] and {"Key": "team", "Value": "ml"} in train["Tags"]
    assert steps["clean"]["CacheConfig"]["ExpireAfter"] == "PT12H"


def test_image_uris_default_to_the_builds_image_uris_json(compiled):
    from tests.pipelines.pipelines_fixtures import IMAGE_URIS as uris

    definition = json.loads(compiled["image-uris"])  # compiled where the build wrote image-uris.json
    parameters = parameters_of(definition)
    assert parameters["TrainImageUri"]["DefaultValue"] == uris["train"]
    assert parameters["ProcessImageUri"]["DefaultValue"] == uris["process"]
    assert validate.problems(definition) == []


def test_the_forecast_pipeline_compiles_from_the_same_spec_and_validates(compiled):
    """The second task's pipeline: the same step scripts, clean told the task, the gate on skill against
    seasonal naive, every request valid against the service model."""
    forecast = json.loads(compiled["forecast"])
    assert validate.problems(forecast) == []
    steps = steps_by_name(forecast)
    assert set(steps) == {"clean", "feature", "train", "evaluation", "evaluation-gate", "evaluation-gate-failed"}
    clean = steps["clean"]["Arguments"]["AppSpecification"]
    arguments = dict(zip(clean["ContainerArguments"][::2], clean["ContainerArguments"][1::2]))
    assert clean["ContainerEntrypoint"] == ["python3", "/opt/program/clean.py"] and arguments["--task"] == "forecast"
    assert arguments["--series_column"] == {"Get": "Parameters.SeriesColumn"}
    train = steps["train"]["Arguments"]
    assert sorted(c["ChannelName"] for c in train["InputDataConfig"]) == ["schema", "train", "validation"]
    gate = steps["evaluation-gate"]["Arguments"]
    assert gate["Conditions"][0]["RightValue"] == {"Get": "Parameters.GateFloor"}
    assert parameters_of(forecast)["GateFloor"]["DefaultValue"] == 0.0


def test_the_forecast_training_hosts_are_a_pipeline_parameter_sharding_the_train_split(compiled):
    """TrainInstanceCount (and CleanInstanceCount) are the spec's parameters, referenced by the jobs'
    InstanceCount: an execution started with TrainInstanceCount=4 trains on 4 hosts, each given whole
    files of the train split (ShardedByS3Key); the same names the local runner takes (HOSTS=4)."""
    for name, default in (("forecast", 1), ("forecast-hosts", 4)):
        forecast = json.loads(compiled[name])
        assert validate.problems(forecast) == []
        parameters, steps = parameters_of(forecast), steps_by_name(forecast)
        for parameter in ("TrainInstanceCount", "CleanInstanceCount"):
            assert parameters[parameter] == {"Name": parameter, "Type": "Integer", "DefaultValue": default}
        assert parameters["FeatureInstanceCount"]["DefaultValue"] == 1  # the compiler's own, for steps the spec leaves
        train = steps["train"]["Arguments"]
        assert train["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainInstanceCount"}
        clean = steps["clean"]["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert clean["InstanceCount"] == {"Get": "Parameters.CleanInstanceCount"}
        distribution = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
                        for c in train["InputDataConfig"]}
        assert distribution == {"train": "ShardedByS3Key", "validation": "FullyReplicated", "schema": "FullyReplicated"}
        feature = steps["feature"]["Arguments"]["AppSpecification"]["ContainerArguments"]
        files = feature[feature.index("--train_files") + 1]  # the files the hosts share, a parameter too
        assert files == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainFiles"}]}}
        assert parameters["TrainFiles"]["DefaultValue"] == 8
    # the service model allows InstanceCount 0 (instance groups): the compiler refuses it as a default
    refused = run_pipelines_python(["-m", "pipelines", "definition", "--pipeline", "forecast",
                                    "--default", "TrainInstanceCount=0"])
    assert refused.returncode == 2 and "'TrainInstanceCount' default 0: an instance count of 1 or more" in refused.stderr
