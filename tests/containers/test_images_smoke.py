"""Smoke tests of the built images: dependencies import, entry points resolve, no compilers."""

from __future__ import annotations

import json

import pytest

PROGRAM_DIR = "/opt/program"  # where both images keep scripts/ (as in conftest.py)

pytestmark = pytest.mark.container

# What every step imports, from the working directory the entrypoints see (WORKDIR /opt/program,
# as `python3 /opt/program/<step>.py` puts the script's folder first on sys.path).
IMPORTS = "import sklearn, pandas, pyarrow, contract; print(contract.__file__)"


@pytest.mark.parametrize("which", ["process", "train"])
def test_dependencies_and_contract_import(which, request, run_in):
    image = request.getfixturevalue(f"{which}_image")
    code, out = run_in(image, ["python3", "-c", IMPORTS])
    assert code == 0, out
    assert f"{PROGRAM_DIR}/contract/__init__.py" in out


@pytest.mark.parametrize("which", ["process", "train"])
def test_python3_is_the_interpreter_with_the_dependencies(which, request, run_in):
    # SageMaker processing runs ContainerEntrypoint ["python3", "/opt/program/<step>.py"] from any cwd.
    image = request.getfixturevalue(f"{which}_image")
    code, out = run_in(
        image,
        ["python3", "-c", "import sys, sklearn, pandas, pyarrow; print(sys.prefix)"],
        working_dir="/",
    )
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "/opt/venv"


def test_train_image_train_on_path(train_image, run_in):
    code, out = run_in(
        train_image, ["sh", "-c", "command -v train && python3 -c 'import sagemaker_training, gunicorn'"]
    )
    assert code == 0, out
    # the toolkit's entry point (containers/sagemaker-train.sh wraps sagemaker_training.cli.train)
    assert out.split()[0] == "/opt/venv/bin/train"


def test_train_image_serve_on_path(train_image, run_in):
    code, out = run_in(train_image, ["sh", "-c", "command -v serve && test -x \"$(command -v serve)\""])
    assert code == 0, f"`serve` is not an executable on PATH (scripts/serve, mode 755):\n{out}"
    assert out.split()[0] == f"{PROGRAM_DIR}/serve"


def test_train_image_environment_and_label(engine, train_image):
    attrs = engine.images.get(train_image).attrs
    config = attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["Labels"].get("com.amazonaws.sagemaker.capabilities.accept-bind-to-port") == "true"
    assert "8080/tcp" in (config.get("ExposedPorts") or {})
    assert env["SAGEMAKER_PROGRAM"] == "train.py"
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == PROGRAM_DIR
    assert env["PATH"].split(":")[0] == PROGRAM_DIR
    assert "SM_STUDIO_LOCAL_MODE" not in env  # the local runner passes it, the image must not


def test_train_image_has_no_compiler(train_image, run_in):
    code, out = run_in(
        train_image,
        ["sh", "-c", "for c in gcc cc c++ g++ clang; do command -v $c && exit 1; done; "
         "ls /usr/bin/*gcc* /usr/lib/gcc 2>/dev/null && exit 1; exit 0"],
    )
    assert code == 0, f"compiler found in the final image:\n{out}"


@pytest.mark.parametrize("which", ["process", "train"])
def test_no_build_leftovers(which, request, run_in):
    # No pip caches, no apt lists, no tests or data copied in, and the scripts are there.
    image = request.getfixturevalue(f"{which}_image")
    code, out = run_in(
        image,
        ["sh", "-c",
         "test ! -e /root/.cache/pip && test -z \"$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)\" "
         f"&& test ! -e {PROGRAM_DIR}/tests && test -z \"$(find {PROGRAM_DIR} -name '*.csv' -o -name __pycache__)\" "
         f"&& test -f {PROGRAM_DIR}/contract/__init__.py"],
    )
    assert code == 0, out


PROBE = """\
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "probe.json"), "w") as f:
    json.dump({"cwd": os.getcwd(), "here": here, "argv": sys.argv[1:], "exe": sys.executable,
               "channels": json.loads(os.environ["SM_CHANNELS"])}, f)
"""


@pytest.mark.parametrize("submit_dir_hp", [False, True], ids=["no-code-hyperparameter", "submit-dir-hyperparameter"])
def test_train_runs_program_with_whole_opt_ml_mounted(train_image, run_in, tmp_path, submit_dir_hp):
    """`docker run -v TREE:/opt/ml IMAGE train`: the toolkit finds SAGEMAKER_PROGRAM among the baked
    scripts although the mount hides the image's /opt/ml/code link, with or without the SDK's
    `sagemaker_submit_directory` hyperparameter pointing at /opt/program."""
    tree = tmp_path / "ml"
    config = tree / "input" / "config"
    config.mkdir(parents=True)
    (tree / "input" / "data" / "train").mkdir(parents=True)
    (tree / "model").mkdir()
    (tree / "output").mkdir()
    hps = {"epochs": "3"}
    if submit_dir_hp:
        hps["sagemaker_submit_directory"] = json.dumps(PROGRAM_DIR)
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}})
    )
    probe = tmp_path / "probe_train.py"
    probe.write_text(PROBE)

    code, out = run_in(
        train_image,
        ["train"],
        environment={"SAGEMAKER_PROGRAM": "probe_train.py", "SM_STUDIO_LOCAL_MODE": "true"},
        volumes={
            str(tree): {"bind": "/opt/ml", "mode": "rw"},
            str(probe): {"bind": f"{PROGRAM_DIR}/probe_train.py", "mode": "ro"},
        },
    )
    assert code == 0, out
    seen = json.loads((tree / "model" / "probe.json").read_text())
    assert seen["argv"] == ["--epochs", "3"]
    assert seen["cwd"] in ("/opt/ml/code", PROGRAM_DIR)  # /opt/ml/code may be a link to it
    assert seen["exe"].startswith("/opt/venv/bin/python")
    assert seen["channels"] == ["train"]
    # the toolkit reports the outcome to SageMaker in /opt/ml/output: success written, no failure
    assert (tree / "output" / "success").is_file(), sorted(p.name for p in (tree / "output").iterdir())
    assert not (tree / "output" / "failure").exists(), (tree / "output" / "failure").read_text()
