"""Running a step: exit codes, the failure file SageMaker shows, and SIGTERM.

Training jobs report failure in `output/failure`, processing jobs in `output/message`;
SageMaker shows the first 1,024 characters. We write one line that names what is wrong
and never overwrite a file already there (the first reason is the real one).
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable

from . import hostsync, layout
from common.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, Stopped, StepError

MAX_REASON_CHARS = 1024
_stop = threading.Event()


def stop_requested() -> bool:
    """True once SIGTERM arrived; long-running steps poll this between units of work."""
    return _stop.is_set()


def write_failure(path: Path, reason: str) -> None:
    """Write the one-line reason unless a failure file already exists."""
    line = " ".join(reason.split())[:MAX_REASON_CHARS]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except FileExistsError:
        pass


def _install_sigterm(cooperative: bool) -> None:
    def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
        _stop.set()
        if not cooperative:
            raise Stopped("stopped by SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)


def _run(main: Callable[[], None], report_path: Callable[[], Path], cooperative: bool) -> int:
    _install_sigterm(cooperative)
    try:
        main()
        return 0
    except (StepError, Stopped) as exc:
        reason = str(exc)
        print(f"ERROR: {reason}", file=sys.stderr)
        write_failure(report_path(), reason)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback from wherever the step was
        print("ERROR: interrupted (Ctrl-C)", file=sys.stderr)
        write_failure(report_path(), "interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence must catch everything
        traceback.print_exc()
        write_failure(report_path(), f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _hosts(resource_config: Path) -> tuple[tuple[str, ...], str]:
    """(hosts, current) of a multi-instance job, or one host when the config cannot say (main reports why)."""
    from .jobs import _hosts as read_hosts

    try:
        hosts = read_hosts(resource_config, network_names=True)  # the barrier connects to the leader by name
    except Exception:  # noqa: BLE001 - a broken config is main()'s to report, with its own message
        return ("algo-1",), "algo-1"
    return hosts.hosts, hosts.current


def run_training(main: Callable[[], None], cooperative_stop: bool = False) -> None:
    """Run a training entry point; with cooperative_stop, SIGTERM only sets stop_requested().
    With several hosts, none leaves before all are done (hostsync: local mode stops on the first exit)."""
    with hostsync.job_end_barrier(*_hosts(layout.training_config_dir() / "resourceconfig.json")):
        code = _run(main, layout.failure_file, cooperative_stop)
    sys.exit(code)


def run_processing(main: Callable[[], None]) -> None:
    with hostsync.job_end_barrier(*_hosts(layout.processing_config_dir() / "resourceconfig.json")):
        code = _run(main, layout.message_file, cooperative=False)
    sys.exit(code)
