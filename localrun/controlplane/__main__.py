"""python -m localrun.controlplane start|status|stop|endpoints|delete-endpoint NAME [--state-dir DIR]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import client, daemon


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.controlplane", description=__doc__)
    parser.add_argument("command", choices=["start", "status", "stop", "endpoints", "delete-endpoint", "run"])
    parser.add_argument("name", nargs="?", help="the endpoint, for delete-endpoint")
    parser.add_argument("--state-dir", type=Path, default=daemon.DEFAULT_STATE_DIR)
    parser.add_argument("--engine", choices=["process", "docker"], default="process")
    parser.add_argument("--port", type=int, default=None, help="for run: the API port (default: the previous one)")
    args = parser.parse_args(argv)

    if args.command == "run":  # the daemon itself, started by `start`
        daemon.run(args.state_dir, args.engine, args.port)
        return 0
    if args.command == "start":
        print(daemon.ensure_running(args.state_dir, args.engine))
        return 0
    if args.command == "stop":
        print("stopped" if daemon.stop(args.state_dir) else "not running")
        return 0
    running = daemon.status(args.state_dir)
    if args.command == "status":
        print(f"running, pid {running['pid']}, {running['url']}" if running else "not running")
        return 0 if running else 3
    if not running:
        print(f"the control plane of {args.state_dir} is not running", file=sys.stderr)
        return 3
    if args.command == "endpoints":
        for endpoint in client.endpoints(running["url"]):
            described = client.call(running["url"], "DescribeEndpoint", {"EndpointName": endpoint["EndpointName"]})
            print(f"{endpoint['EndpointName']}\t{endpoint['EndpointStatus']}\t"
                  f"{running['url']}/endpoints/{endpoint['EndpointName']}/invocations\t"
                  f"config {described['EndpointConfigName']}")
        return 0
    if not args.name:
        parser.error("delete-endpoint needs the endpoint's name")
    try:
        for line in client.tear_down(running["url"], args.name):
            print(f"deleted {line}")
    except client.CallError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
