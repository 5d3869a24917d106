"""How long a definition compile takes, with the SDK's per-lookup config validation and without it.

pipelines.sagemaker.config_validated_once skips the SDK's re-validation of our fixed defaults
config (TELEMETRY_OFF) on every lookup; baseline and candidate compile the same spec in this one
process, alternating, and must give the same bytes. Runs in .venv-pipelines (re-executes itself
there when the SDK is not importable here).

    .venv-pipelines/bin/python bench/pipelines_compile_bench.py [rounds]
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIPELINES_PYTHON = REPO / ".venv-pipelines" / "bin" / "python"


def _sdk_here() -> bool:
    try:
        import sagemaker  # noqa: F401
    except ImportError:
        return False
    return True


def main(rounds: int) -> None:
    sys.path[:0] = [str(REPO / "scripts"), str(REPO)]
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    with contextlib.redirect_stdout(sys.stderr):
        from pipeline import spec
        from pipelines import sagemaker as compiler
        from pipelines.inputs import CompileInputs

    inputs = CompileInputs()

    def baseline() -> str:  # the SDK as it comes: every lookup validates the config again
        with contextlib.redirect_stdout(sys.stderr):
            session = compiler.offline_session(inputs)
            text = compiler._Compiler(spec.CLASSIFIER, inputs, session).build().definition()
        return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def candidate() -> str:
        with contextlib.redirect_stdout(sys.stderr):
            return compiler.compile(spec.CLASSIFIER, inputs)

    seconds: dict[str, list[float]] = {"baseline": [], "candidate": []}
    texts: dict[str, str] = {}
    for _ in range(rounds):
        for name, fn in (("baseline", baseline), ("candidate", candidate)):
            started = time.perf_counter()
            texts[name] = fn()
            seconds[name].append(time.perf_counter() - started)
    assert texts["baseline"] == texts["candidate"], "the two compiles differ"
    print(f"{'compile of the classifier definition':<40} {'median s':>9} {'runs':>5}")
    for name, values in seconds.items():
        print(f"{name:<40} {statistics.median(values):>9.2f} {len(values):>5}")
    print(f"compile_speedup={statistics.median(seconds['baseline']) / statistics.median(seconds['candidate']):.1f}")


if __name__ == "__main__":
    if not _sdk_here():
        if not PIPELINES_PYTHON.exists():
            print("the SageMaker SDK is in .venv-pipelines: run `make pipelines-setup` first", file=sys.stderr)
            sys.exit(1)
        os.execv(str(PIPELINES_PYTHON), [str(PIPELINES_PYTHON), __file__, *sys.argv[1:]])
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
