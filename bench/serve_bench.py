#!/usr/bin/env python3
"""Serving benchmark, one run on 127.0.0.1, same model and same CSV bodies for every stack:

  in-process      serving.handler.Handler.invocations called directly, one thread (the floor)
  serve           scripts/serve: gunicorn, 2 sync workers, fast scorer (what ships)
  serve+pipeline  the same server scoring through the artifact's sklearn pipeline: the generic path, what
                  a model without a fast scorer gets (the same pipeline call as mms's)
  mms             AWS's sagemaker-inference toolkit on multi-model-server (Java), with the handler a
                  user would write: pandas.read_csv + the artifact's pipeline (bench/mms/)

Load: wrk, 4 connections, 1-, 100- and 1,000-row headerless CSV requests. Every stack is up for the
whole run and the measurements alternate between them in rounds, so a burst of other load on the
shared machine falls on all of them alike. Beside wrk's rates, each stack's CPU time per request
(every process of its group: gunicorn's or MMS's Java frontend and Python workers), which other load
moves far less than the rates. The MMS stack lives in its own venv (.cache/bench-venv, created on
first use); wrk comes from Debian when missing. Everything started here is stopped here, by process
group. The last line holds the ratios.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # every stack inherits these, as scripts/serve sets them; MMS sets OMP's itself
REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
CACHE = REPO / ".cache"
BENCH_VENV = CACHE / "bench-venv"
sys.path[:0] = [str(SCRIPTS), str(REPO)]  # the step scripts, and localrun's endpoint helpers

from localrun.endpoint import invoke, wait_healthy  # noqa: E402

MMS_PACKAGES = ["sagemaker-inference==1.10.1", "multi-model-server==1.1.11"]
SAME_AS_HERE = ["scikit-learn", "numpy", "pandas", "scipy", "joblib"]  # the artifact must unpickle there too
CONNECTIONS, THREADS, WORKERS = 4, 2, 2
SIZES = (1, 100, 1000)

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "text/csv"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- setup -------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        log("installing wrk from Debian")
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def ensure_mms_venv() -> Path:
    """A separate venv for sagemaker-inference + multi-model-server, pinned to this env's ML libraries."""
    wanted = MMS_PACKAGES + [f"{name}=={importlib.metadata.version(name)}" for name in SAME_AS_HERE]
    marker = BENCH_VENV / ".requirements"
    if marker.is_file() and marker.read_text().split() == wanted:
        return BENCH_VENV / "bin"
    log(f"creating {BENCH_VENV} with {' '.join(wanted)} (once)")
    shutil.rmtree(BENCH_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    pip = subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *wanted],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode:
        raise RuntimeError(f"pip install failed:\n{pip.stdout[-3000:]}{pip.stderr[-3000:]}")
    marker.write_text("\n".join(wanted))
    return BENCH_VENV / "bin"


def bench_model(model_dir: Path) -> None:
    """Train the default model on data/lending_club.csv unless a loadable artifact is there already."""
    from tasks.classifier import artifact, cleaning, features, modeling, schema
    from tasks.classifier.training import TrainParams

    try:
        artifact.load(model_dir)
        return
    except artifact.ArtifactError:
        pass
    import pandas as pd

    log(f"training the benchmark model into {model_dir}")
    cleaned, _ = cleaning.clean(pd.read_csv(REPO / "data" / "lending_club.csv"), "Class")
    sch = schema.infer(cleaned, "Class", "bad", ["rownames"])
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, seed=42)
    fitted = modeling.fit(train, validation, sch, features.fit_preprocessor(train, sch), TrainParams())
    artifact.save(model_dir, fitted.pipeline, sch, fitted.threshold, test.head(3))


def request_bodies(model) -> dict[int, bytes]:
    """Headerless CSV in the model's feature order (SageMaker's convention), from real rows."""
    import pandas as pd

    raw = pd.read_csv(REPO / "data" / "lending_club.csv")
    frame = raw[list(model.schema.features)].dropna(subset=[model.schema.numeric[0]])
    return {n: pd.concat([frame] * (n // len(frame) + 1)).head(n).to_csv(index=False, header=False).encode()
            for n in SIZES}


# -- measuring -----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(handler, bodies: dict[int, bytes], seconds: float) -> dict[int, dict]:
    results = {}
    for n, body in bodies.items():
        latencies, deadline = [], time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = handler.invocations("text/csv", "application/json", body)
            latencies.append(time.perf_counter() - start)
            assert response.status == 200, response
        rate = len(latencies) / sum(latencies)
        results[n] = {"req_s": rate, "rows_s": rate * n, "p50_ms": 1e3 * percentile(latencies, 0.5),
                      "p99_ms": 1e3 * percentile(latencies, 0.99), "errors": 0}
    return results


def parse_vs_predict(handler, body: bytes, repeats: int = 200) -> tuple[float, float]:
    """Median ms to decode the body and to score the decoded batch, in-process."""
    decode_times, score_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        batch = handler.decoder.decode("csv", body)
        middle = time.perf_counter()
        handler.scorer.predict_proba(batch)
        decode_times.append(middle - start)
        score_times.append(time.perf_counter() - middle)
    return 1e3 * statistics.median(decode_times), 1e3 * statistics.median(score_times)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(out: str, pattern: str) -> float:
    found = re.search(pattern + r"\s+([\d.]+)(us|ms|s|m)\b", out)
    if not found:
        raise RuntimeError(f"cannot read {pattern!r} in wrk's output:\n{out}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def run_wrk(wrk: str, stack: "Stack", body_file: Path, lua: Path, seconds: int, n: int,
            warm_up: bool = True) -> dict:
    env = {**os.environ, "BENCH_BODY": str(body_file)}
    command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", "--latency", "-s", str(lua),
               f"http://127.0.0.1:{stack.port}/invocations"]
    if warm_up:
        subprocess.run(command[:1] + ["-d2s"] + command[1:], env=env, check=True, capture_output=True, timeout=60)
    cpu = stack.idle_cpu_seconds()  # requests still in flight from before are not this run's
    out = subprocess.run(command[:1] + [f"-d{seconds}s"] + command[1:], env=env, check=True, capture_output=True,
                         text=True, timeout=seconds + 60).stdout
    cpu = stack.cpu_seconds() - cpu
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(int(x) for x in re.findall(r"(\d+)", socket_errors.group(1)))
    return {"req_s": rate, "rows_s": rate * n, "errors": errors, "requests": requests, "cpu_s": cpu,
            "cpu_ms": 1e3 * cpu / max(requests, 1), "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%")}


def combine(runs: list[dict], n: int) -> dict:
    """One stack's rounds at one size: rates and CPU per request over all of them, the worst tail."""
    rate = statistics.median(r["req_s"] for r in runs)
    requests = sum(r["requests"] for r in runs)
    return {"req_s": rate, "rows_s": rate * n, "errors": sum(r["errors"] for r in runs),
            "cpu_ms": 1e3 * sum(r["cpu_s"] for r in runs) / max(requests, 1),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs), "p99_ms": max(r["p99_ms"] for r in runs)}


# -- servers -------------------------------------------------------------------------------------

def free_port() -> int:
    """A free port below 32768: MMS 1.1 refuses higher ones ("Invalid port number")."""
    for port in range(21000 + os.getpid() % 5000, 32768):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Stack:
    """A server in its own process group, so that stopping it stops every process it started."""

    def __init__(self, name: str, command: list[str], env: dict, log_file: Path, port: int):
        self.name, self.port, self.log_file = name, port, log_file
        self._log = open(log_file, "wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=log_file.parent, start_new_session=True)

    def ready(self, sample: bytes, timeout: float = 180) -> bytes:
        """Wait until /ping is healthy, then until an invocation succeeds (MMS says healthy before its
        model is loaded, and answers 503 meanwhile); returns that first answer."""
        url, deadline = f"http://127.0.0.1:{self.port}", time.monotonic() + timeout
        try:
            wait_healthy(url, timeout, self.process)
            while True:
                status, answer = invoke(url, sample)
                if status == 200:
                    return answer.encode()
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"invocations still answer HTTP {status}: {answer[:300]}")
                time.sleep(0.25)
        except (RuntimeError, OSError) as error:
            raise RuntimeError(f"{self.name} not ready: {error}; see {self.log_file}") from None

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of every live process in this stack's group (its session leader's pid)."""
        total = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[2]) == self.process.pid:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / _CLOCK_TICKS

    def idle_cpu_seconds(self, timeout: float = 10.0) -> float:
        """cpu_seconds() once the stack has stopped working (under 10 ms of CPU in 0.2 s), or after `timeout`."""
        deadline, before = time.monotonic() + timeout, self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.cpu_seconds()
            if now - before < 0.01:
                return now
            before = now
        return before

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of the group (MMS's Java and workers)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._log.close()


def serve_stack(name: str, base: Path, work: Path, scorer: str | None = None) -> Stack:
    """scripts/serve; with `scorer` ("module:Class", built from the model) in place of compile_scorer's choice."""
    port = free_port()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SERVING_HOST": "127.0.0.1",
           "SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS)}
    env.pop("SM_MODEL_DIR", None)
    command = [sys.executable, str(SCRIPTS / "serve")]
    if scorer:
        module, attribute = scorer.split(":")
        command = [sys.executable, "-c", (
            f"import sys, importlib; sys.path.insert(0, {str(SCRIPTS)!r}); import serving.handler as h; "
            f"h.compile_scorer = getattr(importlib.import_module({module!r}), {attribute!r}); "
            "from serving.server import main; sys.exit(main([]))")]
    return Stack(name, command, env, work / f"{name}.log", port)


def mms_stack(venv_bin: Path, model_dir: Path, work: Path) -> Stack:
    """The toolkit's own MMS config text (its _generate_mms_config_properties), bound to 127.0.0.1, and
    the command its start_model_server runs; the config goes to our temp dir instead of /etc."""
    port = free_port()
    tmp = work / "mms-tmp"
    tmp.mkdir()
    env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
           "PYTHONPATH": str(REPO / "bench" / "mms"), "BENCH_SCRIPTS": str(SCRIPTS), "TMPDIR": str(tmp),
           "TEMP": str(tmp), "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
           "LOG_LOCATION": str(work / "mms-logs"), "METRICS_LOCATION": str(work / "mms-logs")}
    python = str(venv_bin / "python")
    config = subprocess.run([python, "-c", (
        "from sagemaker_inference import model_server as m, environment as e; "
        "print(m._generate_mms_config_properties(e.Environment(), 'handler_service')); print(m.DEFAULT_MMS_LOG_FILE)")],
        env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    properties = work / "mms.properties"
    properties.write_text("\n".join(config[:-1]).replace("0.0.0.0", "127.0.0.1") + "\n")
    command = [str(venv_bin / "multi-model-server"), "--start", "--foreground", "--model-store", "/",
               "--mms-config", str(properties), "--log-config", config[-1], "--models", f"model={model_dir}"]
    return Stack("mms", command, env, work / "mms.log", port)


# -- report --------------------------------------------------------------------------------------

def table(results: dict[str, dict[int, dict]]) -> str:
    width = max(16, *(len(name) + 2 for name in results))
    lines = [f"{'stack':<{width}}{'rows':>6}{'req/s':>10}{'rows/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'cpu ms/req':>12}{'errors':>8}"]
    for n in SIZES:
        for name, by_size in results.items():
            r = by_size.get(n)
            if r:
                cpu = f"{r['cpu_ms']:>12.2f}" if "cpu_ms" in r else f"{'-':>12}"
                lines.append(f"{name:<{width}}{n:>6}{r['req_s']:>10.0f}{r['rows_s']:>11.0f}{r['p50_ms']:>9.2f}"
                             f"{r['p99_ms']:>9.2f}{cpu}{r['errors']:>8}")
    return "\n".join(lines)


def ratios(results: dict[str, dict[int, dict]], parse_ms: float, predict_ms: float) -> dict[str, float]:
    serve, floor = results["serve"], results["in-process"]
    found = {
        "serve_p99_1row_ms": serve[1]["p99_ms"],
        "serve_req_ratio_vs_inprocess": serve[1]["req_s"] / floor[1]["req_s"],
        "serve_rows_ratio_vs_inprocess": serve[1000]["rows_s"] / floor[1000]["rows_s"],
        "parse_ms_1000": parse_ms,
        "predict_ms_1000": predict_ms,
        "parse_vs_predict_1000": parse_ms / predict_ms,
    }
    if "mms" in results:
        mms, generic = results["mms"], results["serve+pipeline"]
        found = {"serve_rows_ratio_vs_mms": serve[1000]["rows_s"] / mms[1000]["rows_s"],
                 "serve_req_ratio_vs_mms": serve[1]["req_s"] / mms[1]["req_s"],
                 # the generic path (the artifact's pipeline, no fast scorer) against the same pipeline on MMS
                 **{f"pipeline_rows_ratio_vs_mms_{n}": generic[n]["rows_s"] / mms[n]["rows_s"] for n in SIZES},
                 # CPU per request, MMS's over ours: above 1, ours costs less per request
                 **{f"pipeline_cpu_ratio_vs_mms_{n}": mms[n]["cpu_ms"] / generic[n]["cpu_ms"] for n in SIZES},
                 **found}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8,
                        help="measured seconds per stack and size, split over the rounds (after a 2 s warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds that alternate between the stacks")
    parser.add_argument("--model-dir", type=Path, help="artifact to serve (default: train one into .cache/bench)")
    parser.add_argument("--skip-mms", action="store_true", help="only the in-process floor and serve")
    parser.add_argument("--scorer", action="append", default=[], metavar="NAME=MODULE:CLASS",
                        help="one more serve stack scoring with that class, built from the model (importable "
                             "with PYTHONPATH): a candidate scorer beside the shipped ones, in the same run")
    args = parser.parse_args()

    from tasks.classifier import artifact
    from serving.handler import Handler

    wrk = ensure_wrk()
    venv_bin = None if args.skip_mms else ensure_mms_venv()
    model_dir = args.model_dir or CACHE / "bench" / "model"
    if not args.model_dir:
        bench_model(model_dir)
    model = artifact.load(model_dir)
    handler = Handler(model)
    bodies = request_bodies(model)
    log(f"model {model_dir}: {len(model.schema.features)} features, {handler.scorer.name} scorer; "
        f"bodies {', '.join(f'{n} rows = {len(b)} bytes' for n, b in bodies.items())}")

    results: dict[str, dict[int, dict]] = {"in-process": in_process(handler, bodies, seconds=3)}
    parse_ms, predict_ms = parse_vs_predict(handler, bodies[1000])
    expected = handler.invocations("text/csv", "application/json", bodies[1])

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as work_dir:
        work = Path(work_dir)
        base = work / "tree"
        shutil.copytree(model_dir, base / "model")
        lua = work / "post.lua"
        lua.write_text(LUA)
        files = {}
        for n, body in bodies.items():
            files[n] = work / f"body-{n}.csv"
            files[n].write_bytes(body)
        plans = [("serve", lambda: serve_stack("serve", base, work)),
                 ("serve+pipeline", lambda: serve_stack("serve+pipeline", base, work, "serving.scorer:PipelineScorer"))]
        for extra in args.scorer:
            name, _, scorer = extra.partition("=")
            plans.append((name, lambda name=name, scorer=scorer: serve_stack(name, base, work, scorer)))
        if venv_bin:
            plans.append(("mms", lambda: mms_stack(venv_bin, base / "model", work)))
        stacks: dict[str, Stack] = {}
        try:
            for name, start in plans:
                stacks[name] = stack = start()
                started = time.monotonic()
                answer = stack.ready(bodies[1])
                log(f"{name}: first successful invocation {time.monotonic() - started:.1f} s after start")
                if answer.replace(b" ", b"") != expected.body.replace(b" ", b""):
                    raise RuntimeError(f"{name} answered {answer[:200]!r}, in-process {expected.body[:200]!r}")
            runs: dict[str, dict[int, list]] = {name: {n: [] for n in SIZES} for name in stacks}
            names, seconds = list(stacks), max(1, args.seconds // args.rounds)  # wrk takes whole seconds
            for round_ in range(args.rounds):
                for n in SIZES:
                    for name in names[round_ % len(names):] + names[: round_ % len(names)]:  # rotated each round
                        runs[name][n].append(run_wrk(wrk, stacks[name], files[n], lua, seconds, n,
                                                     warm_up=round_ == 0))
        finally:
            for stack in stacks.values():
                stack.stop()
        results.update({name: {n: combine(by_size[n], n) for n in SIZES} for name, by_size in runs.items()})

    print(table(results))
    print(" ".join(f"{key}={value:.2f}" for key, value in ratios(results, parse_ms, predict_ms).items()))
    failed = [name for name, by_size in results.items() if any(r["errors"] for r in by_size.values())]
    if failed:
        log(f"errors under load in: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
