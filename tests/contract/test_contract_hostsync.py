"""Multi-instance jobs end together: no host leaves before the slowest host's work is done."""

import socket
import threading
import time

from contract import hostsync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_hosts(monkeypatch, work_seconds: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Each host in a thread: (when its work ended, when it left the barrier)."""
    monkeypatch.setenv("SM_HOST_BARRIER_PORT", str(free_port()))
    hosts = tuple(sorted(work_seconds))
    times: dict[str, tuple[float, float]] = {}

    def host(name: str) -> None:
        with hostsync.job_end_barrier(hosts, name):
            time.sleep(work_seconds[name])
            done = time.monotonic()
        times[name] = (done, time.monotonic())

    threads = [threading.Thread(target=host, args=(name,)) for name in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(times) == set(hosts)
    return times


def test_a_worker_with_nothing_to_do_waits_for_the_leader(monkeypatch):
    # 127.0.0.1 sorts first: the leader; localhost is a worker with no work at all
    times = run_hosts(monkeypatch, {"127.0.0.1": 1.5, "localhost": 0.0})
    assert times["localhost"][1] >= times["127.0.0.1"][0]


def test_the_leader_waits_for_a_slower_worker(monkeypatch):
    times = run_hosts(monkeypatch, {"127.0.0.1": 0.0, "localhost": 1.5})
    assert times["127.0.0.1"][1] >= times["localhost"][0]


def test_no_barrier_when_the_leader_does_not_resolve(monkeypatch):
    # the local runner's hosts (algo-1, algo-2 as processes of one machine): nobody waits for anybody
    monkeypatch.setenv("SM_HOST_BARRIER_PORT", str(free_port()))
    with hostsync.job_end_barrier(("algo-1.invalid", "algo-2.invalid"), "algo-2.invalid"):
        pass


def test_local_mode_host_names_read_as_the_platform_names_them():
    from contract.jobs import Hosts, platform_names

    local = Hosts(("algo-2-k3x9q", "algo-1-ab12c"), "algo-2-k3x9q")
    assert platform_names(local) == Hosts(("algo-2", "algo-1"), "algo-2")
    for kept in (Hosts(("algo-1", "algo-2"), "algo-1"), Hosts(("worker-ab12c", "algo-1-ab12c"), "worker-ab12c"),
                 Hosts(("algo-1-ab12c", "algo-1-zz99z"), "algo-1-ab12c")):  # not every host local mode's, or a clash
        assert platform_names(kept) == kept
