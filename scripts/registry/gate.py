"""The approval gate as a pure decision: scores and settings in, a ModelApprovalStatus and its reason out.

Rules (docs: decisions.md, "Gates"):
- below the floor -> Rejected;
- first model of a group -> judged on the floor alone;
- a champion this image cannot load -> never auto-approved: floor alone, a person decides;
- otherwise Approved only when auto_approve and the challenger beats the champion, both scored on
  the same rows, by at least `margin`; PendingManualApproval in every other case.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

APPROVED = "Approved"
PENDING = "PendingManualApproval"
REJECTED = "Rejected"
STATUSES = (APPROVED, PENDING, REJECTED)
TOLERANCE = 1e-12  # 0.75 - 0.74 is 0.00999...: a margin met in decimal must be met in float


@dataclass(frozen=True)
class Champion:
    arn: str
    version: int
    registered_value: float | None  # what the registry recorded when it was registered
    value: float | None = None  # re-scored in this step on the challenger's test rows
    not_rescored_because: str | None = None  # set when this image could not load it


@dataclass(frozen=True)
class GateSettings:
    metric: str
    higher_is_better: bool
    floor: float
    margin: float
    auto_approve: bool


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str
    metric: str
    challenger_value: float
    floor: float
    margin: float
    champion_arn: str | None = None
    champion_version: int | None = None
    champion_value: float | None = None
    champion_rescored: bool | None = None
    improvement: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _better_by(value: float, other: float, higher_is_better: bool) -> float:
    return value - other if higher_is_better else other - value


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6f}"


def decide(challenger_value: float, settings: GateSettings, champion: Champion | None) -> Decision:
    s = settings
    base = dict(metric=s.metric, challenger_value=challenger_value, floor=s.floor, margin=s.margin)
    if champion is not None:
        base.update(
            champion_arn=champion.arn, champion_version=champion.version,
            champion_value=champion.value if champion.not_rescored_because is None else champion.registered_value,
            champion_rescored=champion.not_rescored_because is None,
        )
    name = f"{s.metric} {_fmt(challenger_value)}"
    if not math.isfinite(challenger_value):
        return Decision(REJECTED, f"{s.metric} is not a number ({challenger_value}); nothing to compare", **base)
    if _better_by(challenger_value, s.floor, s.higher_is_better) < -TOLERANCE:
        side = "below" if s.higher_is_better else "above"
        return Decision(REJECTED, f"{name} is {side} the floor {_fmt(s.floor)}", **base)
    manual = "" if s.auto_approve else "; auto_approve is off, a person decides"
    if champion is None:
        status = APPROVED if s.auto_approve else PENDING
        return Decision(status, f"first model of the group: {name} meets the floor {_fmt(s.floor)}{manual}", **base)
    if champion.not_rescored_because is not None:
        return Decision(
            PENDING,
            f"{name} meets the floor {_fmt(s.floor)}; champion v{champion.version} could not be loaded by this image "
            f"({champion.not_rescored_because}), its registered {s.metric} {_fmt(champion.registered_value)} is "
            f"not re-scored, so a person decides",
            **base,
        )
    improvement = _better_by(challenger_value, champion.value, s.higher_is_better)
    base["improvement"] = improvement
    versus = f"{name} vs champion v{champion.version} {_fmt(champion.value)} on the same rows"
    if improvement + TOLERANCE >= s.margin:
        status = APPROVED if s.auto_approve else PENDING
        return Decision(status, f"{versus}: better by {_fmt(improvement)} >= margin {_fmt(s.margin)}{manual}", **base)
    return Decision(
        PENDING, f"{versus}: better by {_fmt(improvement)} < margin {_fmt(s.margin)}; a person decides", **base
    )
