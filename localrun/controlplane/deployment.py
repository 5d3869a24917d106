"""Endpoints brought up, updated blue/green, restored and torn down.

An update starts the new fleet beside the old one; it takes traffic only once every host has
passed /ping and its smoke request. Traffic then moves all at once, by a canary or in linear
steps; the new fleet's 5xx answers are watched through every step and the termination wait, and
past the threshold traffic goes back to the old fleet, which is stopped only after the wait.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
import time
import uuid
from pathlib import Path


from ..endpoint import free_port
from .capture import Capture
from .db import Store
from .hosting import ArtifactStore, Fleet, Host, HostFailed, SmokeRequest, Variant, sample_rows_request, wait_ready
from .proxy import EndpointRuntime, Routing

log = logging.getLogger("controlplane")
ENDPOINT, CONFIG, MODEL = "Endpoint", "EndpointConfig", "Model"
HEALTH_TIMEOUT = float(os.environ.get("CONTROLPLANE_HEALTH_TIMEOUT", "240"))  # SageMaker's 4 minutes
# the local stand-in for CloudWatch alarms: the new fleet's share of 5xx answers during the shift
ROLLBACK_ERROR_RATE = float(os.environ.get("CONTROLPLANE_ROLLBACK_ERROR_RATE", "0.01"))
ROLLBACK_MIN_ERRORS = int(os.environ.get("CONTROLPLANE_ROLLBACK_MIN_ERRORS", "1"))


def make_engine(name: str):
    if name == "docker":
        from ..docker_engine import DockerEngine

        return DockerEngine()
    from ..engines import ProcessEngine

    return ProcessEngine()


class RolledBack(Exception):
    pass


class Hosting:
    def __init__(self, store: Store, state_dir: Path, engine, engine_name: str = "process",
                 smoke: SmokeRequest = sample_rows_request):
        self.store, self.engine, self.engine_name, self.smoke = store, engine, engine_name, smoke
        self.artifacts = ArtifactStore(Path(state_dir) / "artifacts")
        self.hosts_dir = Path(state_dir) / "hosts"
        self.runtimes: dict[str, EndpointRuntime] = {}
        self.cancelled: set[str] = set()
        self.closing = False
        self.health_timeout = HEALTH_TIMEOUT
        self.fleets: dict[int, tuple[str, Fleet]] = {}  # every fleet started and not yet stopped
        self.lock = threading.Lock()
        self.workers: list[threading.Thread] = []

    # bodies ------------------------------------------------------------------------------------
    def set_endpoint(self, name: str, **changes) -> dict | None:
        def change(body: dict) -> dict:
            body.update(changes)
            body["LastModifiedTime"] = time.time()
            return body

        return self.store.update(ENDPOINT, name, change)

    # fleets ------------------------------------------------------------------------------------
    def start_fleet(self, endpoint: str, config_name: str) -> Fleet:
        """Start every instance of every variant; hosts that fail to start are reported by wait_fleet."""
        config = self.store.get(CONFIG, config_name)
        if config is None:
            raise HostFailed(f"endpoint config {config_name} no longer exists")
        fleet_id = uuid.uuid4().hex[:8]
        variants = []
        fleet = Fleet(config_name, variants)
        with self.lock:
            self.fleets[id(fleet)] = (endpoint, fleet)
        try:
            for spec in config["ProductionVariants"]:
                model = self.store.get(MODEL, spec["ModelName"])
                if model is None:
                    raise HostFailed(f"model {spec['ModelName']} of variant {spec['VariantName']} no longer exists")
                hosts = [self._start_host(endpoint, fleet_id, spec["VariantName"], index, model)
                         for index in range(int(spec.get("InitialInstanceCount") or 1))]
                variants.append(Variant(spec["VariantName"], float(spec.get("InitialVariantWeight", 1.0)), hosts,
                                        spec["ModelName"]))
        except BaseException:
            self.stop_fleet(endpoint, fleet)
            raise
        return fleet

    def _start_host(self, endpoint: str, fleet_id: str, variant: str, index: int, model: dict) -> Host:
        from contract import modeltar  # pandas comes with it: imported when a host starts, not with the daemon

        tree = self.hosts_dir / endpoint / fleet_id / f"{variant}-{index + 1}"
        try:
            modeltar.extract(self.artifacts.path(model["_ArtifactSha256"]), tree / "model")
        except Exception as exc:
            raise HostFailed(f"variant {variant}: model data of {model['ModelName']} cannot be unpacked: {exc}") from None
        port = free_port()
        handle = self.engine.serve(tree, port)
        process = getattr(handle, "process", None)
        container = getattr(handle, "container", None)
        ref = str(process.pid) if process is not None else getattr(container, "id", f"{tree}")
        self.store.record_host(endpoint, ref, self.engine_name, str(tree))
        return Host(variant, port, tree, handle, ref)

    def wait_fleet(self, endpoint: str, fleet: Fleet, deadline: float) -> None:
        errors: list[str] = []

        def check(host: Host) -> None:
            try:
                wait_ready(host, self.smoke, deadline, lambda: self.is_cancelled(endpoint))
            except HostFailed as exc:
                errors.append(f"variant {host.variant} ({host.tree.name}): {exc}")

        threads = [threading.Thread(target=check, args=(host,)) for host in fleet.hosts()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise HostFailed("; ".join(errors))

    def is_cancelled(self, endpoint: str) -> bool:
        return self.closing or endpoint in self.cancelled

    def stop_fleet(self, endpoint: str, fleet: Fleet | None) -> None:
        if fleet is None:
            return
        with self.lock:
            self.fleets.pop(id(fleet), None)
        fleet.stop()
        for host in fleet.hosts():
            self.store.forget_host(endpoint, host.ref)
            shutil.rmtree(host.tree, ignore_errors=True)

    # lifecycle ---------------------------------------------------------------------------------
    def background(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.workers.append(thread)
        thread.start()

    def open(self, name: str, port: int, capture_config: dict | None) -> int:
        """The endpoint's listener on its stable port (a new one if that port is taken)."""
        runtime = EndpointRuntime(name, Routing(), Capture(name, capture_config or {}))
        try:
            bound = runtime.serve(port)
        except OSError:
            bound = runtime.serve(0)
        with self.lock:
            self.runtimes[name] = runtime
        return bound

    def bring_up(self, name: str, config_name: str, failure_reason: str | None = None) -> None:
        """Creating (or restoring) -> InService, or Failed with the reason."""
        fleet = None
        try:
            fleet = self.start_fleet(name, config_name)
            self.wait_fleet(name, fleet, time.monotonic() + self.health_timeout)
        except Exception as exc:
            self.stop_fleet(name, fleet)
            if not self.is_cancelled(name):
                self.set_endpoint(name, EndpointStatus="Failed", FailureReason=str(exc))
            return
        runtime = self.runtimes.get(name)
        if runtime is None or self.is_cancelled(name):
            self.stop_fleet(name, fleet)
            return
        runtime.routing.current = fleet
        self.set_endpoint(name, EndpointStatus="InService", FailureReason=failure_reason)

    def update(self, name: str, config_name: str, deployment: dict) -> None:
        """Blue/green: the old fleet serves until the new one has taken all traffic and the wait is over."""
        runtime = self.runtimes[name]
        policy = (deployment or {}).get("BlueGreenUpdatePolicy") or {}
        started = time.monotonic()
        deadline = started + float(policy.get("MaximumExecutionTimeoutInSeconds") or 28800)
        fleet = None
        try:
            fleet = self.start_fleet(name, config_name)
            self.wait_fleet(name, fleet, min(deadline, time.monotonic() + self.health_timeout))
            runtime.routing.begin(fleet)
            for share, wait in traffic_steps(policy, fleet):
                runtime.routing.shift(share)
                self._watch(name, runtime.routing, wait, deadline)
            self._watch(name, runtime.routing, float(policy.get("TerminationWaitInSeconds") or 0), deadline)
        except (HostFailed, RolledBack) as exc:
            if self.is_cancelled(name):
                self.stop_fleet(name, fleet)
                return
            self.set_endpoint(name, EndpointStatus="RollingBack")
            runtime.routing.abandon()
            runtime.routing.drain(fleet) if fleet else None
            self.stop_fleet(name, fleet)
            log.warning("endpoint %s: update to %s rolled back: %s", name, config_name, exc)
            self.set_endpoint(name, EndpointStatus="InService", _PendingConfig=None,
                              FailureReason=f"update to {config_name} rolled back: {exc}")
            return
        old = runtime.routing.promote()
        runtime.capture = Capture(name, (self.store.get(CONFIG, config_name) or {}).get("DataCaptureConfig") or {})
        self.set_endpoint(name, EndpointStatus="InService", EndpointConfigName=config_name, _PendingConfig=None,
                          FailureReason=None, _LastUpdateSeconds=round(time.monotonic() - started, 3))
        if old is not None:
            runtime.routing.drain(old)
            self.stop_fleet(name, old)

    def _watch(self, name: str, routing: Routing, seconds: float, deadline: float) -> None:
        until = time.monotonic() + seconds
        while True:
            errors, requests = routing.error_rate()
            if errors >= ROLLBACK_MIN_ERRORS and errors / max(requests, 1) > ROLLBACK_ERROR_RATE:
                raise RolledBack(f"the new fleet answered {errors} of {requests} requests with an error")
            if self.is_cancelled(name):
                raise RolledBack("the endpoint is being deleted")
            if time.monotonic() > deadline:
                raise RolledBack("MaximumExecutionTimeoutInSeconds exceeded")
            if time.monotonic() >= until:
                return
            time.sleep(min(0.05, max(until - time.monotonic(), 0)))

    def tear_down(self, name: str) -> None:
        self.cancelled.add(name)
        with self.lock:
            runtime = self.runtimes.pop(name, None)
        if runtime is not None:
            runtime.close()
            fleets = [runtime.routing.current, runtime.routing.candidate]
            runtime.routing.current = runtime.routing.candidate = None
            for fleet in fleets:
                self.stop_fleet(name, fleet)
        with self.lock:
            starting = [fleet for endpoint, fleet in self.fleets.values() if endpoint == name]
        for fleet in starting:
            self.stop_fleet(name, fleet)
        shutil.rmtree(self.hosts_dir / name, ignore_errors=True)

    def close(self) -> None:
        """Stop every host (the daemon is stopping); endpoints stay in the state for the next start."""
        self.closing = True
        with self.lock:
            runtimes, self.runtimes = list(self.runtimes.values()), {}
        for runtime in runtimes:
            runtime.close()
        with self.lock:
            fleets = list(self.fleets.values())
        threads = [threading.Thread(target=self.stop_fleet, args=pair) for pair in fleets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in self.workers:
            worker.join(timeout=60)


def traffic_steps(policy: dict, fleet: Fleet) -> list[tuple[float, float]]:
    """(share of traffic on the new fleet, seconds to watch it) for each step of the shift."""
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    wait = float(routing.get("WaitIntervalInSeconds") or 0)
    kind = routing.get("Type", "ALL_AT_ONCE")
    instances = max(len(fleet.hosts()), 1)

    def fraction(size: dict) -> float:
        value = float(size["Value"])
        share = value / 100 if size["Type"] == "CAPACITY_PERCENT" else value / instances
        return min(max(share, 0.0), 1.0)

    if kind == "CANARY":
        return [(fraction(routing["CanarySize"]), wait), (1.0, 0.0)]
    if kind == "LINEAR":
        step = fraction(routing["LinearStepSize"]) or 1.0
        count = math.ceil(1 / step - 1e-9)
        return [(min(round(step * (i + 1), 6), 1.0), wait) for i in range(count)]
    return [(1.0, wait)]
