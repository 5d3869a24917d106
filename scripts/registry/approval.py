"""A person's decision on a package: UpdateModelPackage, then one line in the audit trail."""

from __future__ import annotations

from pathlib import Path

from common.errors import ConfigError

from . import audit, gate, packages


def change_status(sm, ref: str, to: str, reason: str, who: str, audit_file: Path) -> dict:
    """Set a package's approval status with a reason; returns the audit entry written."""
    if to not in gate.STATUSES:
        raise ConfigError(f"status {to!r} is not one of {list(gate.STATUSES)}")
    if not reason.strip():
        raise ConfigError("a reason is required (--reason): it goes into the package and the audit trail")
    package = packages.describe(sm, ref)
    arn, before = package["ModelPackageArn"], package.get("ModelApprovalStatus")
    if before == to:
        raise ConfigError(f"{arn} is already {to}")
    change = f"{before} to {to} by {who}"
    sm.update_model_package(**packages.status_request(package, to, f"{who}: {reason}", change))
    return audit.append(audit_file, {
        "who": who, "package_arn": arn, "group": package.get("ModelPackageGroupName"),
        "version": package.get("ModelPackageVersion"), "from": before, "to": to, "reason": reason,
    })
