"""The daemon: started by one command, it outlives it, keeps its state across a restart, and stops."""

from __future__ import annotations

import os
import subprocess
import sys

from plane_clients import client

from localrun.controlplane import daemon

REPO = daemon.REPO


def cli(state_dir, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'scripts'}")
    return subprocess.run([sys.executable, "-m", "localrun.controlplane", *args, "--state-dir", str(state_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_daemon_outlives_its_starter_keeps_state_and_stops(tmp_path):
    state = tmp_path / "controlplane"
    started = cli(state, "start")
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url.startswith("http://127.0.0.1:")
        assert daemon.ensure_running(state) == url  # the starter has exited; the same daemon answers
        sm = client("sagemaker", url)
        sm.create_model_package_group(ModelPackageGroupName="kept")
        assert "running" in cli(state, "status").stdout
        assert cli(state, "endpoints").stdout == ""
        pid = daemon.status(state)["pid"]
        assert os.getsid(pid) != os.getsid(0)  # its own session: the end of `make run` does not reach it

        assert daemon.stop(state)
        assert daemon.status(state) is None and cli(state, "status").returncode == 3
        again = daemon.ensure_running(state)
        assert again == url  # the same port, from the port file
        assert client("sagemaker", again).describe_model_package_group(
            ModelPackageGroupName="kept")["ModelPackageGroupStatus"] == "Completed"
    finally:
        daemon.stop(state)
    assert cli(state, "stop").stdout.strip() == "not running"
    assert (state / "state.db").exists() and (state / "daemon.log").exists()
