"""python -m localrun.transform (make transform): a Batch Transform job, run as SageMaker runs it.

Per simulated instance: the model unpacked under its own /opt/ml tree, the engine's serving container
(`scripts/serve`, or the serving image with its own SAGEMAKER_BIND_TO_PORT on the host network) started
with the environment a transform container gets (SAGEMAKER_BATCH=true; SAGEMAKER_MAX_PAYLOAD_IN_MB,
SAGEMAKER_BATCH_STRATEGY, SAGEMAKER_MAX_CONCURRENT_TRANSFORMS only when the job sets them), GET /ping
until healthy, then GET /execution-parameters (a 404 is normal). Each value comes from the job first,
then that answer, then the platform's default (1 request at a time, 6 MB, MultiRecord).

Each input object (file; sub-folders kept) is split by line; records are packed up to the payload
limit (MultiRecord) or sent one per request (SingleRecord), MaxConcurrentTransforms requests at a
time, and the answers are assembled in input order, one line per record (AssembleWith=Line).
`<relative path>.out` appears (atomically) only when the whole object succeeded; a failed object is
reported with the server's message and fails the job. Objects are spread over --instances by key.
DataProcessing (CSV index filters and the join) is applied outside the container, as on the platform
(localrun.dataprocessing). `manifest.json` beside the .out files: the model's SHA-256 and package, rows
scored, placeholders by reason, each object's instance. The pipeline's transform step runs through
`job_of_step` + `run_transform`; `make transform` is the score pipeline's transform.

A header line is one more record, as on the platform (it has no header-skip setting): the runner
passes it through unchanged, and the batch server refuses it (decisions.md: batch input is
headerless). The runner also checks that every answer has one line per record it was sent, so a
server that skipped a header line fails the object instead of shifting the output by one.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from common.errors import ConfigError
from pipeline import spec

from .endpoint import free_port, lay_out_serving, wait_healthy
from .dataprocessing import DataProcessing, fields_of
from .engines import Engine, ProcessEngine

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6  # the platform's defaults when neither the job nor the container says
DEFAULT_CONCURRENCY = 1
DEFAULT_STRATEGY = "MultiRecord"
_STRATEGIES = {"multirecord": "MultiRecord", "multi_record": "MultiRecord",
               "singlerecord": "SingleRecord", "single_record": "SingleRecord"}
_ENV_STRATEGY = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


@dataclass(frozen=True)
class TransformJob:
    """What CreateTransformJob says; None means "ask the container, then the default"."""

    data: Path  # a file, or a folder (the S3 prefix): every file below it is an input object
    output: Path
    model_tar: Path
    content_type: str = "text/csv"
    accept: str = "text/csv"
    split_type: str = "Line"  # Line | None
    batch_strategy: str | None = None  # MultiRecord | SingleRecord
    max_payload_mb: int | None = None  # 1..100
    max_concurrent_transforms: int | None = None
    assemble_with: str = "Line"  # Line | None
    instances: int = 1
    environment: dict[str, str] = field(default_factory=dict)  # the Model's Environment
    invocation_timeout: int = 600  # ModelClientConfig
    max_retries: int = 3
    input_filter: str | None = None  # DataProcessing (CSV): JSONPath over a line's fields
    join_source: str | None = None  # "Input": the output line follows its input line
    output_filter: str | None = None
    model_package: str | None = None  # for the manifest: the package the model came from


@dataclass
class ObjectResult:
    key: str  # path relative to the input prefix, with "/"
    instance: str
    records: int = 0
    requests: int = 0
    out: Path | None = None
    error: str | None = None
    seconds: float = 0.0  # from its first read to its .out (the server already up)
    placeholders: dict[str, int] = field(default_factory=dict)  # SAGEMAKER_BATCH_BAD_RECORDS=placeholder: by reason


@dataclass
class TransformResult:
    output: Path
    objects: list[ObjectResult]
    parameters: dict[str, dict]  # per instance: what it ran with and where each value came from
    seconds: float = 0.0

    @property
    def failed(self) -> list[ObjectResult]:
        return [o for o in self.objects if o.error is not None]

    @property
    def scoring_seconds(self) -> float:
        """The busiest instance's time on its objects: the job without starting and stopping servers."""
        busy: dict[str, float] = {}
        for o in self.objects:
            busy[o.instance] = busy.get(o.instance, 0.0) + o.seconds
        return max(busy.values(), default=0.0)

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects if o.error is None)


class TransformFailed(RuntimeError):
    def __init__(self, result: TransformResult):
        self.result = result
        lines = [f"  {o.key} (instance {o.instance}): {o.error}" for o in result.failed]
        super().__init__(f"{len(result.failed)} of {len(result.objects)} input objects failed:\n" + "\n".join(lines))


class ObjectFailed(Exception):
    pass


# -- the job ------------------------------------------------------------------------------------
def validate(job: TransformJob) -> None:
    """CreateTransformJob's own checks, before anything starts (ConfigError names the setting)."""
    if job.split_type not in ("Line", "None"):
        raise ConfigError(f"SplitType {job.split_type!r}: this runner supports Line and None")
    if job.assemble_with not in ("Line", "None"):
        raise ConfigError(f"AssembleWith {job.assemble_with!r}: use Line or None")
    if job.batch_strategy is not None:
        normalized_strategy(job.batch_strategy, "BatchStrategy")
    if job.max_payload_mb is not None and not 1 <= job.max_payload_mb <= 100:
        raise ConfigError(f"MaxPayloadInMB {job.max_payload_mb}: use 1..100 (0, unbounded, is refused: "
                          "an object must fit in memory-bounded requests)")
    if job.max_concurrent_transforms is not None and job.max_concurrent_transforms < 1:
        raise ConfigError(f"MaxConcurrentTransforms {job.max_concurrent_transforms}: use 1 or more")
    if job.max_payload_mb and job.max_concurrent_transforms and \
            job.max_payload_mb * job.max_concurrent_transforms > 100:
        raise ConfigError(f"MaxConcurrentTransforms x MaxPayloadInMB = {job.max_concurrent_transforms} x "
                          f"{job.max_payload_mb} exceeds 100")
    if job.instances < 1:
        raise ConfigError(f"InstanceCount {job.instances}: use 1 or more")
    if len(job.environment) > 16:
        raise ConfigError(f"Environment has {len(job.environment)} entries; SageMaker allows at most 16")
    processing = DataProcessing(job.input_filter, job.join_source, job.output_filter)  # ConfigError on a bad filter
    if processing.active and (job.split_type != "Line" or not job.content_type.startswith("text/csv")):
        raise ConfigError("DataProcessing is supported here for text/csv input with SplitType=Line")
    if not job.data.exists():
        raise ConfigError(f"input {job.data} does not exist")
    if job.split_type == "None":
        too_large(job, job.max_payload_mb or 100)
    data, output = job.data.resolve(), job.output.resolve()
    if data.is_dir() and (output == data or data in output.parents):
        raise ConfigError(f"output {output} is inside the input {data}: its .out files would become input")


def too_large(job: TransformJob, payload_mb: int) -> None:
    """SplitType=None sends each object whole: one above the payload limit is refused before any request
    (decisions.md), naming it and the setting to use."""
    prefix, keys = input_objects(job.data)
    for key in keys:
        size = (prefix / key).stat().st_size
        if size > payload_mb * MIB:
            raise ConfigError(f"{key} is {size} bytes, above MaxPayloadInMB ({payload_mb} MB) with SplitType=None, which "
                              "sends each object in one request: use SplitType=Line, or split the file")


def normalized_strategy(value: str, source: str) -> str:
    """Both spellings (the API's MultiRecord, the docs' MULTI_RECORD) mean the same thing here."""
    try:
        return _STRATEGIES[str(value).strip().lower()]
    except KeyError:
        raise ConfigError(f"{source} {value!r}: use MultiRecord or SingleRecord") from None


def input_objects(data: Path) -> tuple[Path, list[str]]:
    """The prefix and its objects' keys, sorted (dotfiles such as partial writes left out)."""
    data = data.resolve()
    if data.is_file():
        return data.parent, [data.name]
    keys = sorted(p.relative_to(data).as_posix() for p in data.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts))
    if not keys:
        raise ConfigError(f"input folder {data} holds no files")
    return data, keys


def assign(keys: list[str], instances: int) -> dict[str, list[str]]:
    """Objects spread over the instances by key (sorted, round robin): each object on exactly one."""
    hosts = {f"algo-{i + 1}": [] for i in range(instances)}
    names = list(hosts)
    for i, key in enumerate(keys):
        hosts[names[i % instances]].append(key)
    return hosts


def run_transform(job: TransformJob, job_dir: Path, engine: Engine | None = None) -> TransformResult:
    """Run the job; returns its result, failed objects included (raise_for_failures to fail)."""
    validate(job)
    engine = engine or ProcessEngine()
    started = time.monotonic()
    prefix, keys = input_objects(job.data)
    plan = assign(keys, job.instances)
    results: list[ObjectResult] = []
    parameters: dict[str, dict] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def instance(host: str, host_keys: list[str]) -> None:
        try:
            with _Container(job, job_dir / "instances" / host, host, engine) as container:
                params = container.execution_parameters()
                with lock:
                    parameters[host] = params
                if job.split_type == "None":
                    too_large(job, params["MaxPayloadInMB"])
                for key in host_keys:
                    result = _transform_object(job, container.url, params, prefix, key, host)
                    with lock:
                        results.append(result)
        except BaseException as exc:  # noqa: BLE001 - reported after every instance stopped
            with lock:
                errors.append(exc)
                results.extend(ObjectResult(k, host, error=f"instance {host} failed: {exc}")
                               for k in host_keys if k not in {r.key for r in results})

    threads = [threading.Thread(target=instance, args=item, name=f"transform-{item[0]}")
               for item in plan.items() if item[1]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.sort(key=lambda r: keys.index(r.key))
    result = TransformResult(job.output.resolve(), results, parameters, time.monotonic() - started)
    write_manifest(job, result)
    return result


def raise_for_failures(result: TransformResult) -> TransformResult:
    if result.failed:
        raise TransformFailed(result)
    return result


def _placeholder_totals(result: TransformResult) -> dict[str, int]:
    totals: dict[str, int] = {}
    for o in result.objects:
        for reason, count in o.placeholders.items():
            totals[reason] = totals.get(reason, 0) + count
    return dict(sorted(totals.items()))


def write_manifest(job: TransformJob, result: TransformResult) -> None:
    """What made these .out files, beside them (decisions.md: every transform output prefix gets one)."""
    digest = hashlib.sha256()
    with open(job.model_tar, "rb") as tar:
        for chunk in iter(lambda: tar.read(1 << 20), b""):
            digest.update(chunk)
    manifest = {
        "model_tar": str(Path(job.model_tar).resolve()), "model_tar_sha256": digest.hexdigest(),
        "model_package": job.model_package,
        "input": str(job.data.resolve()), "records_scored": result.records,
        "placeholders": _placeholder_totals(result),
        "objects": [{"key": o.key, "instance": o.instance, "records": o.records, "requests": o.requests,
                     "out": str(o.out) if o.out else None, "error": o.error, "seconds": round(o.seconds, 3)} for o in result.objects],
        "parameters": result.parameters, "status": "Failed" if result.failed else "Completed",
        "seconds": round(result.seconds, 3),
    }
    result.output.mkdir(parents=True, exist_ok=True)
    tmp = result.output / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, result.output / "manifest.json")


# -- the container ------------------------------------------------------------------------------
def container_environment(job: TransformJob) -> dict[str, str]:
    """The variables SageMaker adds for a transform: the three limits only when the job set them."""
    env = dict(job.environment)
    env["SAGEMAKER_BATCH"] = "true"
    if job.max_payload_mb is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(job.max_payload_mb)
    if job.batch_strategy is not None:
        env["SAGEMAKER_BATCH_STRATEGY"] = _ENV_STRATEGY[normalized_strategy(job.batch_strategy, "BatchStrategy")]
    if job.max_concurrent_transforms is not None:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(job.max_concurrent_transforms)
    return env


class _Container:
    """The serving container of one instance, started by the engine (`scripts/serve`, or the serving image
    with its own SAGEMAKER_BIND_TO_PORT on the host network), with the transform's environment."""

    def __init__(self, job: TransformJob, tree: Path, host: str, engine: Engine):
        self.job, self.tree, self.host, self.engine = job, tree, host, engine
        self.server = None
        self.url = ""

    def __enter__(self) -> "_Container":
        lay_out_serving(self.job.model_tar, self.tree)
        port = free_port()
        # the step passes its invocation timeout in the Model's environment (decisions.md); the job's own wins
        env = {"SAGEMAKER_MODEL_SERVER_TIMEOUT": str(self.job.invocation_timeout), **container_environment(self.job)}
        self.log_path = self.tree / "serve.log"  # what CloudWatch's /aws/sagemaker/TransformJobs would hold
        self.server = self.engine.serve(self.tree, port, env, log=self.log_path)
        self.url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(self.url, process=self.server.process)
        except BaseException as exc:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{exc}; its log: {self.log_path}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()

    def execution_parameters(self) -> dict:
        """The job's value, else the container's answer, else the default; and where each came from."""
        answer: dict = {}
        status, body = _request(self.url, "GET", "/execution-parameters", timeout=10)
        if status == 200:
            answer = json.loads(body)
        elif status != 404:
            raise RuntimeError(f"GET /execution-parameters answered {status}: {body[:300]!r}")
        job = self.job
        chosen = {}
        for name, given, default in (("MaxConcurrentTransforms", job.max_concurrent_transforms, DEFAULT_CONCURRENCY),
                                     ("MaxPayloadInMB", job.max_payload_mb, DEFAULT_PAYLOAD_MB),
                                     ("BatchStrategy", job.batch_strategy, DEFAULT_STRATEGY)):
            if given is not None:
                chosen[name], chosen[name + "Source"] = given, "job"
            elif answer.get(name) is not None:
                chosen[name], chosen[name + "Source"] = answer[name], "container"
            else:
                chosen[name], chosen[name + "Source"] = default, "default"
        chosen["BatchStrategy"] = normalized_strategy(chosen["BatchStrategy"], "BatchStrategy")
        chosen["MaxConcurrentTransforms"] = max(1, int(chosen["MaxConcurrentTransforms"]))
        chosen["MaxPayloadInMB"] = int(chosen["MaxPayloadInMB"])
        if not 1 <= chosen["MaxPayloadInMB"] <= 100:
            raise ConfigError(f"MaxPayloadInMB {chosen['MaxPayloadInMB']} (from {chosen['MaxPayloadInMBSource']}): "
                              "use 1..100")
        return chosen


def _request(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             timeout: float = 600) -> tuple[int, bytes]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- one object ---------------------------------------------------------------------------------
def records_of(path: Path) -> Iterator[bytes]:
    """Line records, each ending in one newline; blank lines are not records."""
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip(b"\r\n"):
                yield line if line.endswith(b"\n") else line + b"\n"


def mini_batches(records: Iterator[bytes], strategy: str, limit: int) -> Iterator[tuple[bytes, int, int]]:
    """(body, records in it, line number of its first record), never above `limit` bytes."""
    parts: list[bytes] = []
    size = first = 0
    for number, record in enumerate(records, start=1):
        if len(record) > limit:
            raise ObjectFailed(f"record {number} is {len(record)} bytes, above MaxPayloadInMB ({limit} bytes)")
        if parts and (strategy == "SingleRecord" or size + len(record) > limit):
            yield b"".join(parts), len(parts), first
            parts, size = [], 0
        if not parts:
            first = number
        parts.append(record)
        size += len(record)
    if parts:
        yield b"".join(parts), len(parts), first


def _invoke(job: TransformJob, url: str, body: bytes) -> tuple[int, bytes]:
    """POST /invocations with InvocationsMaxRetries retries (connection errors and any non-200)."""
    headers = {"Content-Type": job.content_type, "Accept": job.accept}
    status, answer = 0, b""
    for attempt in range(job.max_retries + 1):
        try:
            status, answer = _request(url, "POST", "/invocations", body, headers, timeout=job.invocation_timeout)
        except (OSError, http.client.HTTPException) as exc:
            status, answer = 0, f"no answer: {type(exc).__name__}: {exc}".encode()
        if status == 200 or 400 <= status < 500 and status not in (408, 429):
            return status, answer  # a client error answers the same every time
        if attempt < job.max_retries:
            time.sleep(0.1 * 2 ** attempt)
    return status, answer


def _checked(job: TransformJob, status: int, answer: bytes, count: int, first: int, whole: bool = False) -> bytes:
    """The answer as it goes into the .out: AssembleWith=Line, one line per record sent (SplitType=None:
    the whole object's answer plus a newline)."""
    lines = "the whole object" if whole else f"lines {first}-{first + count - 1}" if count > 1 else f"line {first}"
    if status != 200:
        raise ObjectFailed(f"/invocations answered {status} for {lines}: {_message(answer)}")
    if job.assemble_with == "None":
        return answer
    if whole:
        return answer + b"\n"
    body = answer if answer.endswith(b"\n") else answer + b"\n"
    got = body.count(b"\n")
    if got != count:
        hint = " (a header line? batch input split by line must be headerless: strip it)" if first == 1 else ""
        raise ObjectFailed(f"/invocations answered {got} lines for the {count} records of {lines}{hint}; "
                           "AssembleWith=Line needs one output line per input record")
    return body


def _filtered(records: Iterator[bytes], processing: DataProcessing, originals: deque) -> Iterator[bytes]:
    for number, record in enumerate(records, start=1):
        originals.append(record)
        try:
            yield processing.request_record(record)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ObjectFailed(f"InputFilter on line {number}: {exc}") from None


_LINE_NUMBER = re.compile(r"\bline \d+")


def _count_placeholders(body: bytes, counts: dict[str, int]) -> None:
    """Placeholder lines by reason (the line number left out): `,<error>` in CSV, {"error": ...} in JSON."""
    for line in body.splitlines():
        if line.startswith(b","):
            reason = fields_of(line)[-1]
        elif line.startswith(b'{"error"'):
            reason = str(json.loads(line).get("error", ""))
        else:
            continue
        reason = _LINE_NUMBER.sub("line N", reason)[:300]
        counts[reason] = counts.get(reason, 0) + 1


def _message(answer: bytes) -> str:
    text = answer[:2000].decode("utf-8", errors="replace")
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip()


def _transform_object(job: TransformJob, url: str, params: dict, prefix: Path, key: str, host: str) -> ObjectResult:
    result = ObjectResult(key, host)
    started = time.monotonic()
    source = prefix / key
    target = job.output.resolve() / (key + ".out")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    limit = params["MaxPayloadInMB"] * MIB
    concurrency = params["MaxConcurrentTransforms"]
    processing = DataProcessing(job.input_filter, job.join_source, job.output_filter)
    originals: deque[bytes] = deque()  # input lines sent and not yet answered (bounded: a few batches)
    counting = job.environment.get("SAGEMAKER_BATCH_BAD_RECORDS") == "placeholder"
    try:
        if job.split_type == "None":
            size = source.stat().st_size
            if size > limit:
                raise ObjectFailed(f"{size} bytes, above MaxPayloadInMB ({limit} bytes) with SplitType=None: "
                                   "use SplitType=Line")
            batches: Iterator[tuple[bytes, int, int]] = iter([(source.read_bytes(), 1, 1)])
        else:
            records = records_of(source)
            if processing.active:  # the container gets the filtered line; the join needs the whole one
                records = _filtered(records, processing, originals)
            batches = mini_batches(records, params["BatchStrategy"], limit)
        with open(partial, "wb") as out, ThreadPoolExecutor(concurrency, thread_name_prefix=f"{host}-post") as pool:
            pending: deque[tuple[Future, int, int]] = deque()

            def drain_one() -> None:
                future, count, first = pending.popleft()
                status, answer = future.result()
                body = _checked(job, status, answer, count, first, whole=job.split_type == "None")
                if counting:
                    _count_placeholders(body, result.placeholders)
                if processing.active and job.split_type == "Line":
                    try:
                        body = b"".join(processing.output_line(originals.popleft(), line)
                                        for line in body.splitlines(keepends=True))
                    except (ValueError, UnicodeDecodeError) as exc:
                        raise ObjectFailed(f"DataProcessing on lines {first}-{first + count - 1}: {exc}") from None
                out.write(body)
                result.records += count
                result.requests += 1

            try:
                for body, count, first in batches:
                    while len(pending) >= 2 * concurrency:  # bounded memory: a few batches in flight
                        drain_one()
                    pending.append((pool.submit(_invoke, job, url, body), count, first))
                while pending:
                    drain_one()
            finally:
                for future, _, _ in pending:
                    future.cancel()
        os.replace(partial, target)
        result.out = target
    except ObjectFailed as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        partial.unlink(missing_ok=True)
    if result.error is not None:
        target.unlink(missing_ok=True)  # a stale .out from an earlier job must not pass for this one's
    result.seconds = time.monotonic() - started
    return result


# -- the pipeline's transform step --------------------------------------------------------------
def job_of_step(step, data: Path, model_tar: Path, output: Path, instances: int | None = None,
                model_package: str | None = None) -> TransformJob:
    """The TransformJob a spec.TransformStep declares: the same fields the definition's request carries."""
    return TransformJob(
        data=data, output=output, model_tar=model_tar, content_type=step.content_type, accept=step.accept,
        split_type=step.split_type, batch_strategy=step.batch_strategy, max_payload_mb=step.max_payload_mb,
        max_concurrent_transforms=step.max_concurrent_transforms, assemble_with=step.assemble_with,
        instances=instances or step.instance_count, environment=dict(step.environment),
        invocation_timeout=step.invocation_timeout, max_retries=step.max_retries, input_filter=step.input_filter,
        join_source=step.join_source, output_filter=step.output_filter, model_package=model_package)


def package_model(api_url: str, package: str = "", group: str = "") -> tuple[Path, str]:
    """(model.tar.gz, package ARN) of a model package: the one named, else the group's latest Approved."""
    import boto3

    from registry import packages

    sm = boto3.client("sagemaker", endpoint_url=api_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    if package:
        described = packages.describe(sm, package)
    else:
        latest = packages.latest_approved(sm, group) if group else None
        if latest is None:
            raise ConfigError(f"model package group {group!r} has no Approved package: approve one "
                              "(make registry CMD=\"approve ...\") or name a package")
        described = latest
    url = urlparse(packages.model_data_url(described))  # a file:// URL or an absolute path, locally
    if url.scheme not in ("file", "") or not Path(url.path).is_file():
        raise ConfigError(f"package {described['ModelPackageArn']}: its ModelDataUrl {url.geturl()} is not a local file")
    return Path(url.path), described["ModelPackageArn"]


# -- make transform -----------------------------------------------------------------------------
def default_model(work: Path, group: str = "") -> tuple[Path, str, str | None]:
    """(model.tar.gz, where it came from, package ARN or None): the group's latest Approved package in the
    local registry (through the control plane when it runs, else read from its state), else the latest
    run's model.tar.gz."""
    summary_path = work / "latest" / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    group = group or (summary.get("registration") or {}).get("model_package_group") or "classifier"
    state = work / "controlplane"
    from .controlplane import daemon

    plane = daemon.status(state)
    try:
        if plane:
            model, arn = package_model(plane["url"], "", group)
        else:
            model, arn = _approved_offline(state, group)
        return model, f"package {arn} (the latest Approved of group {group!r})", arn
    except ConfigError as exc:
        reason = str(exc)
    model = (summary.get("outputs") or {}).get("model")
    if not model or not Path(model).is_file():
        raise ConfigError(f"no model to score with: {reason}; and no run under {work} names a model.tar.gz "
                          "(give MODEL=<model.tar.gz>, or `make run` first)")
    print(f"transform: {reason}; scoring with the latest run's model instead", file=sys.stderr)
    return Path(model), f"run {summary.get('run_dir', work / 'latest')} (no Approved package)", None


def _approved_offline(state: Path, group: str) -> tuple[Path, str]:
    """The group's newest Approved package from the stopped control plane's state (read only)."""
    import sqlite3

    database = state / "state.db"
    if not database.is_file():
        raise ConfigError(f"no local model registry under {state}")
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT body FROM model_packages WHERE group_name = ? ORDER BY version", (group,)).fetchall()
    approved = [b for b in (json.loads(r[0]) for r in rows) if b.get("ModelApprovalStatus") == "Approved"]
    if not approved:
        raise ConfigError(f"model package group {group!r} has no Approved package")
    package = approved[-1]
    from registry import packages

    url = urlparse(packages.model_data_url(package))
    if url.scheme not in ("file", "") or not Path(url.path).is_file():
        raise ConfigError(f"package {package['ModelPackageArn']}: its ModelDataUrl {url.geturl()} is not a local file")
    return Path(url.path), package["ModelPackageArn"]


def _engine(name: str, work: Path) -> Engine:
    if name == "process":
        return ProcessEngine()
    from .docker_engine import DockerEngine

    return DockerEngine()


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=VALUE")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.transform", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="input file or folder (the S3 prefix)")
    parser.add_argument("--model", type=Path, help="model.tar.gz (default: the endpoint's model, else the latest run's)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--output", type=Path, help="where the .out files go (default WORK_DIR/transform/<time>/output)")
    step = spec.SCORE.step("transform")  # the score pipeline's transform: its declared values are the defaults
    parser.add_argument("--group", default="", help="model package group (default: the latest run's, else classifier)")
    parser.add_argument("--content-type", default=step.content_type)
    parser.add_argument("--accept", default=step.accept)
    parser.add_argument("--split-type", default=step.split_type, choices=["Line", "None"])
    parser.add_argument("--batch-strategy", default=step.batch_strategy, help="MultiRecord or SingleRecord")
    parser.add_argument("--max-payload-mb", type=int, default=step.max_payload_mb,
                        help="1..100 (default: the container's answer, else 6)")
    parser.add_argument("--max-concurrent-transforms", type=int, default=step.max_concurrent_transforms,
                        help="default: the container's answer, else 1")
    parser.add_argument("--assemble-with", default=step.assemble_with, choices=["Line", "None"])
    parser.add_argument("--input-filter", default=step.input_filter, help="DataProcessing InputFilter, e.g. '$[1:]'")
    parser.add_argument("--join-source", default=step.join_source, choices=["Input", "None"])
    parser.add_argument("--output-filter", default=step.output_filter, help="DataProcessing OutputFilter, e.g. '$[0,-2]'")
    parser.add_argument("--instances", type=int, default=step.instance_count, help="simulated instances (InstanceCount)")
    parser.add_argument("--engine", choices=["process", "docker"], default="process",
                        help="docker: the serving image, each instance on its own port of the host network")
    parser.add_argument("--env", type=_env_pair, action="append", default=[], help="the model's Environment: NAME=VALUE")
    parser.add_argument("--invocation-timeout", type=int, default=step.invocation_timeout, help="InvocationsTimeoutInSeconds")
    parser.add_argument("--max-retries", type=int, default=step.max_retries, help="InvocationsMaxRetries")
    args = parser.parse_args(argv)

    work = args.work_dir.resolve()
    job_dir = work / "transform" / time.strftime("%Y%m%d-%H%M%S")
    try:
        model, source, package = (args.model.resolve(), "given", None) if args.model else default_model(work, args.group)
        job = TransformJob(
            data=args.data.resolve(), output=(args.output or job_dir / "output").resolve(), model_tar=model,
            content_type=args.content_type, accept=args.accept, split_type=args.split_type,
            batch_strategy=args.batch_strategy, max_payload_mb=args.max_payload_mb,
            max_concurrent_transforms=args.max_concurrent_transforms, assemble_with=args.assemble_with,
            instances=args.instances, environment=dict(args.env), invocation_timeout=args.invocation_timeout,
            max_retries=args.max_retries, input_filter=args.input_filter, join_source=args.join_source,
            output_filter=args.output_filter, model_package=package)
        print(f"transform: {job.data} with {model} ({source}), {job.instances} instance(s)", flush=True)
        result = run_transform(job, job_dir, _engine(args.engine, work))
    except ConfigError as exc:
        print(f"transform: {exc}", file=sys.stderr)
        return 2
    for host, params in sorted(result.parameters.items()):
        print(f"  {host}: {params['BatchStrategy']}, {params['MaxPayloadInMB']} MB, "
              f"{params['MaxConcurrentTransforms']} concurrent (from {params['BatchStrategySource']}/"
              f"{params['MaxPayloadInMBSource']}/{params['MaxConcurrentTransformsSource']})")
    if result.failed:
        print(f"TRANSFORM Failed: {TransformFailed(result)}", file=sys.stderr)
        print(f"  server logs under {job_dir / 'instances'}", file=sys.stderr)
        return 1
    print(f"TRANSFORM Completed: {result.records} records in {len(result.objects)} object(s), {result.seconds:.1f} s")
    print(f"  .out files under {result.output} (manifest.json beside them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
