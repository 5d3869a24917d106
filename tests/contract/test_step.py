"""Failure files and exit codes, seen from outside as SageMaker sees them."""

import os
import signal
import subprocess
import sys
import textwrap

from contract.step import write_failure

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "scripts")


def run_script(tmp_path, body, kind="processing"):
    script = tmp_path / "step.py"
    runner = "run_training" if kind == "training" else "run_processing"
    script.write_text(textwrap.dedent(f"""
        import sys; sys.path.insert(0, {os.path.abspath(SCRIPTS)!r})
        from contract import *
        from contract.step import {runner}
        def main():
        {textwrap.indent(textwrap.dedent(body), '    ')}
        {runner}(main)
    """))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path / "ml")}
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)


def test_bad_input_writes_message_and_exits_2(tmp_path):
    result = run_script(tmp_path, "raise DataError('raw/a.csv: column x is missing')")
    assert result.returncode == 2
    assert (tmp_path / "ml/output/message").read_text() == "raw/a.csv: column x is missing\n"
    assert "ERROR: raw/a.csv: column x is missing" in result.stderr


def test_training_failure_goes_to_output_failure_and_bugs_exit_1(tmp_path):
    result = run_script(tmp_path, "{}['missing']", kind="training")
    assert result.returncode == 1
    assert (tmp_path / "ml/output/failure").read_text() == "internal error: KeyError: 'missing'\n"
    assert "Traceback" in result.stderr


def test_success_writes_no_failure(tmp_path):
    result = run_script(tmp_path, "print('fine')")
    assert result.returncode == 0 and not (tmp_path / "ml/output/message").exists()


def test_reason_is_one_line_at_most_1024_chars_and_never_overwritten(tmp_path):
    path = tmp_path / "output" / "failure"
    write_failure(path, "first\nreason " + "x" * 5000)
    write_failure(path, "second reason")
    text = path.read_text()
    assert text.startswith("first reason x") and len(text) == 1025 and text.count("\n") == 1


def test_sigterm_stops_a_processing_step_with_143(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time; sys.path.insert(0, {os.path.abspath(SCRIPTS)!r})
        from contract.step import run_processing
        def main():
            print("started", flush=True)
            time.sleep(30)
        run_processing(main)
    """))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path / "ml")}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "started"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=25) == 143  # before the 30 s sleep ends: the signal stopped it
    assert (tmp_path / "ml/output/message").read_text() == "stopped by SIGTERM\n"
