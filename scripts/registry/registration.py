"""The register step's core: the challenger against the group's champion, through the gate, into the registry.

Order matters: the artifact's SHA-256 is looked up first (a rerun registers nothing new), the
champion is pinned to one described version before it is fetched, and its bytes are checked
against the registry before anything is unpacked.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from common.errors import DataError
from common.storage import sha256_file, sha256_frame
from contract import modeltar

from . import artifacts, gate, packages
from .client import Clients
from .scoring import gate_section, score

Scorer = Callable[[Path, pd.DataFrame], float]
SAME_ROWS_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Registration:
    group: str
    archive: Path  # the challenger's model.tar.gz
    model_data_url: str  # where deploy will find it (s3://, file://)
    image_uri: str
    evaluation: dict
    evaluation_source: str  # the file it came from, for messages
    test_rows: pd.DataFrame
    floor: float
    margin: float
    auto_approve: bool
    evaluation_url: str | None = None
    evaluation_sha256: str | None = None
    baseline_urls: tuple[str, str] | None = None  # statistics.json, constraints.json of the training split
    git_commit: str = ""
    image_digest: str = ""
    instance_types: tuple[str, ...] = field(default_factory=tuple)


def json_safe(value):
    """NaN and infinities as null: decision.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _read_metadata(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


CHAMPION_DIR = Path("champion")  # below register's workdir: the champion's verified, extracted model (model/)


def rescore_champion(
    clients: Clients, package: dict, test_rows: pd.DataFrame, workdir: Path, scorer: Scorer = score
) -> gate.Champion:
    """The champion on the challenger's rows; its artifact is verified first (a mismatch fails the step).

    Anything that stops this image from loading or scoring it (a library upgrade, a schema it
    cannot read) is recorded as "not re-scored" rather than failing: the gate then asks a person.
    """
    arn = package["ModelPackageArn"]
    expected = package.get("CustomerMetadataProperties", {}).get(packages.ARTIFACT_SHA256)
    archive = artifacts.fetch_verified(packages.model_data_url(package), expected, arn, workdir, clients.s3)
    common = dict(arn=arn, version=package.get("ModelPackageVersion", 0), registered_value=packages.registered_value(package))
    try:
        value = scorer(modeltar.extract(archive, workdir / "model"), test_rows)
    except Exception as exc:  # noqa: BLE001 - any failure to load means "a person decides", never auto-approval
        return gate.Champion(**common, not_rescored_because=f"{type(exc).__name__}: {exc}"[:300])
    return gate.Champion(**common, value=value)


def _already_registered(existing: dict, sha: str) -> dict:
    version, status = existing.get("ModelPackageVersion"), existing.get("ModelApprovalStatus")
    return {
        "registered": False,
        "model_package_group": existing.get("ModelPackageGroupName"),
        "model_package_arn": existing["ModelPackageArn"],
        "model_package_version": version,
        "status": status,
        "reason": f"artifact sha256:{sha} is already registered as version {version} ({status}); nothing new registered",
        "artifact_sha256": sha,
    }


def register(clients: Clients, reg: Registration, workdir: Path, scorer: Scorer = score) -> dict:
    """Register the challenger (or report it as already registered); returns decision.json's content."""
    sm = clients.sagemaker
    workdir = Path(workdir)
    sha = sha256_file(reg.archive)
    packages.ensure_group(sm, reg.group)
    existing = packages.find_by_artifact(sm, reg.group, sha)
    if existing is not None:
        return _already_registered(existing, sha)

    gate_in = gate_section(reg.evaluation, reg.evaluation_source)
    challenger_dir = modeltar.extract(reg.archive, workdir / "challenger")
    rescored = scorer(challenger_dir, reg.test_rows)
    value = gate_in["value"]
    if math.isfinite(value) and not math.isclose(rescored, value, rel_tol=0, abs_tol=SAME_ROWS_TOLERANCE):
        raise DataError(
            f"{reg.evaluation_source}: gate {gate_in['metric']} is {value} but the challenger scores {rescored} on "
            f"input 'test' ({len(reg.test_rows)} rows): evaluation and register must read the same test rows"
        )
    champion_package = packages.latest_approved(sm, reg.group)
    champion = None
    if champion_package is not None:
        champion = rescore_champion(clients, champion_package, reg.test_rows, workdir / CHAMPION_DIR, scorer)
    settings = gate.GateSettings(gate_in["metric"], gate_in["higher_is_better"], reg.floor, reg.margin, reg.auto_approve)
    decision = gate.decide(value, settings, champion)

    meta = _read_metadata(challenger_dir)
    properties = packages.metadata(
        artifact_sha256=sha,
        model_sha256=meta.get("model_sha256"),
        train_data_sha256=meta.get("data", {}).get("train_sha256"),
        test_data_sha256=sha256_frame(reg.test_rows),
        git_commit=reg.git_commit or None,
        image_digest=reg.image_digest or None,
        gate_metric=decision.metric,
        gate_value=decision.challenger_value,
        gate_higher_is_better=str(settings.higher_is_better).lower(),
        gate_decision=decision.status,
        gate_reason=decision.reason,
        champion_arn=decision.champion_arn,
        champion_value=decision.champion_value,
        champion_rescored=None if champion is None else ("true" if decision.champion_rescored else "not re-scored"),
    )
    request = packages.package_request(
        reg.group, reg.image_uri, reg.model_data_url, sha, decision.status, decision.reason, properties,
        evaluation_url=reg.evaluation_url, evaluation_sha256=reg.evaluation_sha256,
        instance_types=list(reg.instance_types), baseline_urls=reg.baseline_urls,
    )
    arn = sm.create_model_package(**request)["ModelPackageArn"]
    created = sm.describe_model_package(ModelPackageName=arn)
    return {
        "registered": True,
        "model_package_group": reg.group,
        "model_package_arn": arn,
        "model_package_version": created.get("ModelPackageVersion"),
        "status": decision.status,
        "reason": decision.reason,
        "artifact_sha256": sha,
        "gate": {**decision.to_dict(), "higher_is_better": settings.higher_is_better, "baseline": gate_in["baseline"]},
        "champion": None if champion is None else {
            "arn": champion.arn, "version": champion.version, "value": champion.value,
            "registered_value": champion.registered_value, "rescored": champion.not_rescored_because is None,
            "not_rescored_because": champion.not_rescored_because,
        },
        "model_data_url": reg.model_data_url,
    }
