"""Run jobs as SageMaker would, handing each step's outputs to the next as S3 would.

The local "S3" is a folder: <run>/s3/<step>/<output>/. Processing outputs of every host land
there when the job ends; a training job's model/ is packed into <run>/s3/<step>/model/model.tar.gz.
Each job is looked up in the step cache first and recorded in the run's lineage.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from . import lineage
from .cache import StepCache, copy_prefix, prefix_files, prefix_sha256, step_key
from .engines import Engine
from .jobs import Job, failure_text, kind_of, lay_out


class StepFailed(RuntimeError):
    def __init__(self, step: str, host: str, code: int, reason: str | None):
        self.step, self.host, self.code, self.reason = step, host, code, reason
        super().__init__(f"step '{step}' on {host} failed with exit code {code}: {reason or '(no failure message written)'}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def host_network(job: Job) -> Job:
    """Where a multi-instance job's hosts find their leader (contract.hostsync): on SageMaker algo-1 by
    name; here every host is a process (or a host-network container) of this machine, so 127.0.0.1 and
    a port of this job's own."""
    if len(job.hosts) < 2 or "SM_HOST_BARRIER_PORT" in job.environment:
        return job
    return replace(job, environment={**job.environment, "SM_HOST_BARRIER_ADDRESS": "127.0.0.1",
                                     "SM_HOST_BARRIER_PORT": str(_free_port())})


def _first_failure(failures: list[StepFailed]) -> StepFailed:
    """The host whose failure explains the others: a leader missing a part names the host that failed."""
    own = [f for f in failures if not (f.reason or "").startswith("the leader is missing parts")]
    first = (own or failures)[0]
    if len(failures) > 1:
        others = "; ".join(f"{f.host}: {f.reason}" for f in failures if f is not first)
        first.reason = f"{first.reason} (also {others})"
        first.args = (f"step '{first.step}' on {first.host} failed with exit code {first.code}: {first.reason}",)
    return first


@dataclass
class StepResult:
    job: Job
    trees: dict[str, Path]
    outputs: dict[str, Path]
    seconds: float
    cached: bool = False


class LocalSession:
    def __init__(self, run_dir: Path, engine: Engine, cache: StepCache | None = None, record: lineage.Recorder | None = None):
        self.run_dir = Path(run_dir)
        self.engine = engine
        self.s3 = self.run_dir / "s3"
        self.cache = cache
        self.record = record

    def _run_host(self, job: Job, host: str) -> tuple[str, Path]:
        tree = lay_out(job, self.run_dir / "jobs" / job.step.name, host, self.engine.code_dir)
        code = self.engine.run(job, tree, host)
        if code != 0:
            raise StepFailed(job.step.name, host, code, failure_text(tree, job.step))
        return host, tree

    def run(self, job: Job, use_cache: bool = True) -> StepResult:
        step = job.step
        started, wall = time.time(), time.perf_counter()
        inputs = {name: prefix_files(path) for name, path in job.inputs.items()}
        code = self.engine.code_version(step)
        key = step_key(step.name, step.script, code, job.arguments, len(job.hosts), {n: prefix_sha256(f) for n, f in inputs.items()})
        entry = {
            "step": step.name, "kind": type(step).__name__, "script": step.script, "image": step.image,
            "code_version": code, "arguments": dict(job.arguments), "hosts": job.hosts, "cache_key": key,
            "inputs": {n: {"uri": str(job.inputs[n]), "sha256": prefix_sha256(f)} for n, f in inputs.items()},
            "started": started,
        }
        hit = self.cache.lookup(key) if (self.cache and use_cache and step.cacheable) else None
        if hit:
            print(f"--- {step.name}: cached (inputs, code and parameters unchanged since run {hit['run']})", flush=True)
            outputs = {name: copy_prefix(Path(o["uri"]), self.s3 / step.name / name) for name, o in hit["outputs"].items()}
            result = StepResult(job, {}, outputs, time.perf_counter() - wall, cached=True)
            entry.update(status="cached", cached_from=hit["run"])
        else:
            print(f"--- {step.name} ({type(step).__name__}, {step.script}, {len(job.hosts)} instance(s))", flush=True)
            job = host_network(job)
            try:
                with ThreadPoolExecutor(max_workers=len(job.hosts)) as pool:
                    futures = [pool.submit(self._run_host, job, h) for h in job.hosts]
                failures = [f.exception() for f in futures if f.exception() is not None]
                if failures:
                    steps = [f for f in failures if isinstance(f, StepFailed)]
                    raise _first_failure(steps) if len(steps) == len(failures) else failures[0]
                trees = dict(f.result() for f in futures)
            except BaseException as failure:
                entry.update(status="failed", ended=time.time(), error=str(failure),
                             exit_code=getattr(failure, "code", None))
                if self.record:
                    self.record.step(entry)
                raise
            outputs = kind_of(step).upload(job, trees, self.s3 / step.name)
            result = StepResult(job, trees, outputs, time.perf_counter() - wall)
            entry.update(status="succeeded", exit_code=0)
        files = {name: prefix_files(path) for name, path in outputs.items()}
        entry["outputs"] = {n: {"uri": str(outputs[n]), "sha256": prefix_sha256(f), "files": f} for n, f in files.items()}
        entry.update(ended=time.time(), seconds=round(result.seconds, 3))
        if self.cache and step.cacheable and not hit:
            self.cache.store(key, {"run": str(self.run_dir), "outputs": entry["outputs"]})
        if self.record:
            self.record.step(entry)
        return result
