"""The approval command for the person in the loop (and endpoint teardown).

    python -m registry list GROUP
    python -m registry show ARN|GROUP/VERSION
    python -m registry approve ARN|GROUP/VERSION --reason "..."   (then: deploy takes the latest Approved)
    python -m registry reject ARN|GROUP/VERSION --reason "..."
    python -m registry history [ARN|GROUP/VERSION]
    python -m registry delete-endpoint NAME

Options: --endpoint-url (default SAGEMAKER_ENDPOINT_URL; empty: AWS), --region, --audit-log
(default REGISTRY_AUDIT_LOG or work/registry/audit.jsonl), --by (default: your user name).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from common.errors import StepError

from . import approval, audit, deployment, gate, packages
from .client import make_clients


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry", description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--region", default=None)
    parser.add_argument("--audit-log", default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="versions with status and scores").add_argument("group")
    commands.add_parser("show", help="one package in full").add_argument("ref")
    for name in ("approve", "reject"):
        command = commands.add_parser(name, help=f"{name} a package, with a reason")
        command.add_argument("ref")
        command.add_argument("--reason", required=True)
        command.add_argument("--by", default=None, help="who decides (default: your user name)")
    commands.add_parser("history", help="the audit trail").add_argument("ref", nargs="?")
    commands.add_parser("delete-endpoint", help="an endpoint with its config, models and scaling").add_argument("name")
    return parser


def _table(rows: list[dict]) -> str:
    columns = ["version", "status", "metric", "value", "champion_value", "champion_rescored", "created"]
    cells = [[str(row.get(c) if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def run(argv: list[str], out=sys.stdout) -> int:
    args = _parser().parse_args(argv)
    clients = make_clients(args.endpoint_url, args.region)
    sm = clients.sagemaker
    audit_file = audit.audit_path(args.audit_log)
    if args.command == "list":
        rows = [packages.summary_row(sm.describe_model_package(ModelPackageName=s["ModelPackageArn"]))
                for s in packages.iter_packages(sm, args.group)]
        print(_table(rows), file=out)
    elif args.command == "show":
        package = packages.describe(sm, args.ref)
        shown = {**packages.summary_row(package), "properties": package.get("CustomerMetadataProperties", {}),
                 "model_data_url": packages.model_data_url(package),
                 "history": audit.read(audit_file, package["ModelPackageArn"])}
        print(json.dumps(shown, indent=2, default=str), file=out)
    elif args.command in ("approve", "reject"):
        to = gate.APPROVED if args.command == "approve" else gate.REJECTED
        entry = approval.change_status(sm, args.ref, to, args.reason, args.by or getpass.getuser(), audit_file)
        print(f"{entry['package_arn']}: {entry['from']} -> {entry['to']} (audit: {audit_file})", file=out)
        if to == gate.APPROVED:
            print(f"next: run the deploy step for group {entry['group']}: it deploys the latest Approved package",
                  file=out)
    elif args.command == "history":
        arn = packages.describe(sm, args.ref)["ModelPackageArn"] if args.ref else None
        for entry in audit.read(audit_file, arn):
            print(json.dumps(entry), file=out)
    elif args.command == "delete-endpoint":
        for name in deployment.teardown(clients, args.name):
            print(f"deleted {name}", file=out)
    return 0


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:]))
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
