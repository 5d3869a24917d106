"""Hardening (issue 11, items 8 and 16): truncated archives, processing arguments, Ctrl-C."""

import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from common.errors import ConfigError, DataError
from contract import hyperparameters as hp
from contract import modeltar
from contract.jobs import ProcessingJob, Hosts

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "scripts")


def test_a_truncated_model_archive_is_bad_input(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.joblib").write_bytes(os.urandom(200_000))
    (model / "metadata.json").write_text("{}")
    archive = modeltar.pack(model, tmp_path / "model.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match=r"model.tar.gz: truncated or corrupt archive"):
        modeltar.extract(archive, tmp_path / "out")


def test_processing_errors_say_argument_not_hyperparameter():
    job = ProcessingJob(inputs={}, outputs={}, arguments={"seed": "x"}, hosts=Hosts(("algo-1",), "algo-1"))
    with pytest.raises(ConfigError) as failure:
        job.params({"seed": hp.Param(int, 0)})
    assert str(failure.value) == "argument '--seed': expected integer, got 'x'"
    job = ProcessingJob(inputs={}, outputs={}, arguments={"sed": "1"}, hosts=Hosts(("algo-1",), "algo-1"))
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) \['--sed'\]; known: \['--seed'\]"):
        job.params({"seed": hp.Param(int, 0)})
    with pytest.raises(ConfigError, match="hyperparameter 'seed': expected integer"):
        hp.parse({"seed": "x"}, {"seed": hp.Param(int, 0)})  # training keeps SageMaker's word


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    script = tmp_path / "step.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time; sys.path.insert(0, {os.path.abspath(SCRIPTS)!r})
        from contract.step import run_processing
        def main():
            print("ready", flush=True)
            time.sleep(30)
        run_processing(main)
    """))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path / "ml")}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == ["ERROR: interrupted (Ctrl-C)"]
