"""The hand-off over the job-end barrier: every host's part reaches the leader, whatever its size;
a host that fails without its part makes the leader fail naming it; without a barrier, a clear error."""

import os
import socket
import threading

import pytest

from contract import hostsync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_leader(monkeypatch):
    monkeypatch.setenv("SM_HOST_BARRIER_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("SM_HOST_BARRIER_PORT", str(free_port()))


def run_hosts(parts: dict[str, bytes | None]) -> dict[str, object]:
    """Each host a thread inside the barrier; None: the host fails before handing over its part."""
    hosts = tuple(sorted(parts))
    results: dict[str, object] = {}

    def host(name: str) -> None:
        try:
            with hostsync.job_end_barrier(hosts, name):
                if parts[name] is None:
                    raise RuntimeError("this host's work failed")
                results[name] = hostsync.hand_off(parts[name])
        except Exception as exc:  # noqa: BLE001 - the test looks at what each host ended with
            results[name] = exc

    threads = [threading.Thread(target=host, args=(name,)) for name in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results) == set(hosts)
    return results


def test_every_part_reaches_the_leader_and_only_the_leader(local_leader):
    big = os.urandom(3 * 1024 * 1024)  # more than one socket buffer
    results = run_hosts({"algo-1": b"one", "algo-2": big, "algo-3": b""})
    assert results["algo-1"] == {"algo-1": b"one", "algo-2": big, "algo-3": b""}
    assert results["algo-2"] is None and results["algo-3"] is None


def test_a_host_that_fails_before_its_part_makes_the_leader_fail_naming_it(local_leader):
    results = run_hosts({"algo-1": b"one", "algo-2": None, "algo-3": b"three"})
    assert isinstance(results["algo-1"], hostsync.HandOffError)
    assert "algo-2 ended without handing over a part" in str(results["algo-1"])
    assert isinstance(results["algo-2"], RuntimeError) and results["algo-3"] is None


def test_one_host_hands_off_to_itself():
    with hostsync.job_end_barrier(("algo-1",), "algo-1"):
        assert hostsync.hand_off(b"x") == {"algo-1": b"x"}


def test_hosts_that_cannot_meet_are_told_so(monkeypatch):
    monkeypatch.delenv("SM_HOST_BARRIER_ADDRESS", raising=False)
    with hostsync.job_end_barrier(("algo-1.invalid", "algo-2.invalid"), "algo-2.invalid"):
        with pytest.raises(hostsync.ConfigError, match="cannot hand their parts to the leader"):
            hostsync.hand_off(b"x")
