#!/usr/bin/env python3
"""Serving benchmark, one run on 127.0.0.1, same model and same CSV bodies for every stack:

  in-process      serving.handler.Handler.invocations called directly, one thread (the floor)
  serve           scripts/serve: gunicorn, 2 sync workers, fast scorer (what ships)
  serve+pipeline  the same server scoring through the artifact's sklearn pipeline (isolates the scorer)
  mms             AWS's sagemaker-inference toolkit on multi-model-server (Java), with the handler a
                  user would write: pandas.read_csv + the artifact's pipeline (bench/mms/)

Load: wrk, 4 connections, 1-row and 1,000-row headerless CSV requests. The MMS stack lives in
its own venv (.cache/bench-venv, created on first use); wrk comes from Debian when missing.
Everything started here is stopped here, by process group. The last line holds the ratios.
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

os.environ["OMP_NUM_THREADS"] = "1"
REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
CACHE = REPO / ".cache"
BENCH_VENV = CACHE / "bench-venv"
sys.path[:0] = [str(SCRIPTS), str(REPO)]  # the step scripts, and localrun's endpoint helpers

from localrun.endpoint import invoke, wait_healthy  # noqa: E402

MMS_PACKAGES = ["sagemaker-inference==1.10.1", "multi-model-server==1.1.11"]
SAME_AS_HERE = ["scikit-learn", "numpy", "pandas", "scipy", "joblib"]  # the artifact must unpickle there too
CONNECTIONS, THREADS, WORKERS = 4, 2, 2
SIZES = (1, 1000)

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


def run_wrk(wrk: str, port: int, body_file: Path, lua: Path, seconds: int, n: int) -> dict:
    env = {**os.environ, "BENCH_BODY": str(body_file)}
    command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", "--latency", "-s", str(lua),
               f"http://127.0.0.1:{port}/invocations"]
    warm_up = command[:1] + ["-d2s"] + command[1:]
    subprocess.run(warm_up, env=env, check=True, capture_output=True, timeout=60)
    out = subprocess.run(command[:1] + [f"-d{seconds}s"] + command[1:], env=env, check=True, capture_output=True,
                         text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(int(x) for x in re.findall(r"(\d+)", socket_errors.group(1)))
    return {"req_s": rate, "rows_s": rate * n, "errors": errors,
            "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%")}


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


def serve_stack(name: str, base: Path, work: Path, pipeline_scorer: bool = False) -> Stack:
    port = free_port()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SERVING_HOST": "127.0.0.1",
           "SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS)}
    env.pop("SM_MODEL_DIR", None)
    command = [sys.executable, str(SCRIPTS / "serve")]
    if pipeline_scorer:
        command = [sys.executable, "-c", (
            f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import serving.handler as h, serving.scorer as s; "
            "h.compile_scorer = s.PipelineScorer; from serving.server import main; sys.exit(main([]))")]
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
    lines = [f"{'stack':<16}{'rows':>6}{'req/s':>10}{'rows/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    for n in SIZES:
        for name, by_size in results.items():
            r = by_size.get(n)
            if r:
                lines.append(f"{name:<16}{n:>6}{r['req_s']:>10.0f}{r['rows_s']:>11.0f}{r['p50_ms']:>9.2f}"
                             f"{r['p99_ms']:>9.2f}{r['errors']:>8}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8,
                        help="measured seconds per stack and size (after a 2 s warm-up)")
    parser.add_argument("--model-dir", type=Path, help="artifact to serve (default: train one into .cache/bench)")
    parser.add_argument("--skip-mms", action="store_true", help="only the in-process floor and serve")
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
                 ("serve+pipeline", lambda: serve_stack("serve+pipeline", base, work, pipeline_scorer=True))]
        if venv_bin:
            plans.append(("mms", lambda: mms_stack(venv_bin, base / "model", work)))
        for name, start in plans:
            stack = start()
            try:
                started = time.monotonic()
                answer = stack.ready(bodies[1])
                log(f"{name}: first successful invocation {time.monotonic() - started:.1f} s after start")
                if answer.replace(b" ", b"") != expected.body.replace(b" ", b""):
                    raise RuntimeError(f"{name} answered {answer[:200]!r}, in-process {expected.body[:200]!r}")
                results[name] = {n: run_wrk(wrk, stack.port, files[n], lua, args.seconds, n) for n in SIZES}
            finally:
                stack.stop()

    print(table(results))
    serve, floor = results["serve"], results["in-process"]
    ratios = {
        "serve_p99_1row_ms": serve[1]["p99_ms"],
        "serve_req_ratio_vs_inprocess": serve[1]["req_s"] / floor[1]["req_s"],
        "serve_rows_ratio_vs_inprocess": serve[1000]["rows_s"] / floor[1000]["rows_s"],
        "parse_ms_1000": parse_ms,
        "predict_ms_1000": predict_ms,
        "parse_vs_predict_1000": parse_ms / predict_ms,
    }
    if "mms" in results:
        ratios = {"serve_rows_ratio_vs_mms": serve[1000]["rows_s"] / results["mms"][1000]["rows_s"],
                  "serve_req_ratio_vs_mms": serve[1]["req_s"] / results["mms"][1]["req_s"], **ratios}
    print(" ".join(f"{key}={value:.2f}" for key, value in ratios.items()))
    failed = [name for name, by_size in results.items() if any(r["errors"] for r in by_size.values())]
    if failed:
        log(f"errors under load in: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
