"""`make serve`: the endpoint deploy deployed, served by the local control plane.

What serves is what the gate approved and deploy deployed, not merely the latest run's model. The
endpoint already serves while the control plane runs (it outlives `make run`); after a `make
stop-endpoints` or a reboot this starts the control plane again, which brings its endpoints back.
Prints the endpoint's URL and the command that stops it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline import spec

from .controlplane import client, daemon
from .engines import REPO

ENDPOINT = spec.CLASSIFIER.parameter("EndpointName").default


def wait_in_service(url: str, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        endpoint = client.call(url, "DescribeEndpoint", {"EndpointName": name})
        if endpoint["EndpointStatus"] not in ("Creating", "Updating", "SystemUpdating", "RollingBack"):
            return endpoint
        if time.monotonic() > deadline:
            return endpoint
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.serve", description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--endpoint", default=ENDPOINT, help=f"the endpoint's name (default: {ENDPOINT})")
    parser.add_argument("--engine", choices=["process", "docker"], default="process",
                        help="how the control plane hosts endpoints, when it has to be started")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the endpoint to be InService")
    args = parser.parse_args(argv)
    state_dir = (args.work_dir / "controlplane").resolve()
    if not (state_dir / "state.db").is_file():
        print(f"nothing deployed under {args.work_dir}: run 'make run' first (it registers and deploys)", file=sys.stderr)
        return 2
    url = daemon.ensure_running(state_dir, args.engine)
    try:
        endpoint = wait_in_service(url, args.endpoint, args.timeout)
    except client.CallError as exc:
        print(f"no endpoint '{args.endpoint}' in the control plane at {url} ({exc}): the gate has approved nothing "
              f"deployable yet, or it was deleted; 'make run' deploys", file=sys.stderr)
        return 2
    invocations = f"{url}/endpoints/{args.endpoint}/invocations"
    if endpoint["EndpointStatus"] != "InService":
        print(f"endpoint {args.endpoint} is {endpoint['EndpointStatus']}: {endpoint.get('FailureReason') or ''}", file=sys.stderr)
        return 1
    print(f"endpoint {args.endpoint} InService (config {endpoint['EndpointConfigName']})")
    print(f"  POST {invocations}   (text/csv or application/json; GET {url}/ping)")
    print(f"  stop it: python -m localrun.controlplane stop --state-dir {state_dir}   (make stop-endpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
