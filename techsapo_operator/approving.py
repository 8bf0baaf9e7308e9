"""Admin approval of changes: which spec the operator may apply, and what waits for whom.

Where approval is required (production always, staging when asked), the operator applies a spec
only once an admin's approval in ``status.approval`` names its hash; until then it keeps the
children of the spec it last recorded as approved in ``status.approved``. Both live in the API,
never in the operator's memory, so a restart at any point loses nothing and applies nothing twice.
The API server itself guards them (manifests/policies/approvals.yaml): writing ``approval`` needs
the ``approve`` verb on ``techsapos/approval`` and must name the requesting user and the pending
hash; writing ``approved`` needs ``update`` on ``techsapos/approved``, which only the operator has.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pydantic

from techsapo_operator import comparing, conditions, models, profiles, rendering
from techsapo_operator.conditions import Observation
from techsapo_operator.kinds import ObjectKey

MAX_SUMMARY = 40
FIRST_CREATION = "spec.approval.applyFirstCreation"


def spec_hash(spec: models.TechSapoSpec) -> str:
    """The hash an approval names: of the validated spec, so formatting and quantity forms don't count."""
    canonical = json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class Plan:
    """What one reconcile does about approval."""

    target: models.TechSapo | None
    """The TechSapo whose children to apply: the current one, the last approved one, or None (nothing
    is approved yet, so nothing is applied and nothing pruned)."""
    status: dict[str, Any] = field(default_factory=dict)
    """Status fields to write (None removes a field)."""
    observation: Observation | None = None
    """The ApprovalPending condition, where approval applies."""
    event: tuple[str, str, str] | None = None
    """(type, reason, message) of an Event to record, once per decision."""

    @property
    def waiting(self) -> bool:
        return self.observation is not None and self.observation.status is True


def summarize(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """What applying ``after`` over ``before`` would change, one readable line per child or field."""
    old = {ObjectKey.of(child): child for child in before}
    new = {ObjectKey.of(child): child for child in after}
    lines = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            lines.append(f"add {key.kind} {key.name}")
        elif key not in new:
            lines.append(f"remove {key.kind} {key.name}")
        else:
            was, will = comparing.flatten(old[key]), comparing.flatten(new[key])
            for path in sorted(was.keys() | will.keys()):
                if was.get(path) != will.get(path):
                    lines.append(
                        f"{key.kind} {key.name} {path}: {_show(was.get(path))} -> {_show(will.get(path))}"
                    )
    if len(lines) > MAX_SUMMARY:
        lines = [*lines[: MAX_SUMMARY - 1], f"... and {len(lines) - MAX_SUMMARY + 1} more"]
    return lines


def _show(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)


def _approved(status: dict[str, Any], techsapo: models.TechSapo) -> tuple[models.TechSapo | None, str | None]:
    """The last approved TechSapo and its hash, from status; (None, None) when nothing is recorded."""
    recorded = status.get("approved")
    if not recorded:
        return None, None
    try:
        spec = models.TechSapoSpec.model_validate(recorded["spec"])
    except (pydantic.ValidationError, KeyError, TypeError):
        return None, None  # unreadable: treated as never approved, which applies nothing
    return techsapo.model_copy(update={"spec": spec}), str(recorded.get("hash"))


def plan(techsapo: models.TechSapo, status: dict[str, Any], *, now: str) -> Plan:
    """Decide, from the spec and the status alone, what may be applied."""
    settings = profiles.resolve(techsapo.spec)
    current = spec_hash(techsapo.spec)
    approved, approved_hash = _approved(status, techsapo)
    if approved_hash == current:
        settled = _settled(approved_hash, status) if settings.approval_required else None
        return Plan(target=techsapo, status={"pendingChange": None}, observation=settled)
    if not settings.approval_required:
        # Recorded all the same, so that turning approval on later has a baseline to compare with.
        return _record(
            techsapo, current, f"no approval required in {settings.environment}", now, observe=False
        )
    return _gated(
        techsapo, status, current, approved, now=now, apply_first_creation=settings.apply_first_creation
    )


def _gated(
    techsapo: models.TechSapo,
    status: dict[str, Any],
    current: str,
    approved: models.TechSapo | None,
    *,
    now: str,
    apply_first_creation: bool,
) -> Plan:
    """Where approval is required and the spec differs from what is approved."""
    approval = status.get("approval") or {}
    if approval.get("hash") == current:
        return _record(
            techsapo,
            current,
            approval["user"],
            approval["time"],
            reason="ChangeApproved",
            message=f"applying change {current}, approved by {approval['user']}",
        )
    if approved is None and apply_first_creation:
        return _record(
            techsapo,
            current,
            FIRST_CREATION,
            now,
            reason="FirstCreationApplied",
            message=f"applying the first version {current} without approval, as {FIRST_CREATION} says",
        )
    before = rendering.render(approved) if approved is not None else []
    if approved is not None and before == rendering.render(techsapo):
        # The spec changed but renders the very same children: nothing for an admin to approve.
        recorded = status["approved"]
        return _record(techsapo, current, recorded.get("approvedBy", ""), recorded.get("approvedAt", now))
    return _pending(techsapo, current, before, status, now=now, target=approved)


def _record(
    techsapo: models.TechSapo,
    current: str,
    user: str,
    time: str,
    *,
    reason: str = "",
    message: str = "",
    observe: bool = True,
) -> Plan:
    """The plan that records techsapo's spec as approved (by user, at time) and applies it."""
    approved = {
        "hash": current,
        "generation": techsapo.metadata.generation,
        "spec": techsapo.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "approvedBy": user,
        "approvedAt": time,
    }
    observation = (
        Observation(
            conditions.APPROVAL_PENDING, False, "Approved", f"change {current} approved by {user} at {time}"
        )
        if observe
        else None
    )
    event = ("Normal", reason, message) if reason else None
    return Plan(
        target=techsapo,
        status={"approved": approved, "pendingChange": None},
        observation=observation,
        event=event,
    )


def _settled(approved_hash: str, status: dict[str, Any]) -> Observation:
    recorded = status["approved"]
    return Observation(
        conditions.APPROVAL_PENDING,
        False,
        "Approved",
        f"change {approved_hash} approved by {recorded.get('approvedBy')} at {recorded.get('approvedAt')}",
    )


def _pending(
    techsapo: models.TechSapo,
    current: str,
    before: list[dict[str, Any]],
    status: dict[str, Any],
    *,
    now: str,
    target: models.TechSapo | None,
) -> Plan:
    name, namespace = techsapo.metadata.name, techsapo.metadata.namespace
    previous = status.get("pendingChange") or {}
    summary = summarize(before, rendering.render(techsapo))
    pending: dict[str, Any] = {
        "generation": techsapo.metadata.generation,
        "hash": current,
        "summary": summary,
        "since": previous.get("since", now) if previous.get("hash") == current else now,
    }
    denial = status.get("denial") or {}
    if denial.get("hash") == current:
        reason = denial.get("reason") or "no reason given"
        message = f"change {current} was denied by {denial.get('user')}: {reason}"
        observation = Observation(conditions.APPROVAL_PENDING, False, "Denied", message)
        event = ("Warning", "ChangeDenied", message)
    else:
        approved_generation = (status.get("approved") or {}).get("generation")
        running = f"generation {approved_generation}" if target is not None else "nothing yet"
        message = (
            f"generation {techsapo.metadata.generation} (hash {current}) waits for an admin: "
            f"kubectl techsapo approve {name} -n {namespace} --hash {current} "
            f"(or deny); the approved children keep running ({running})"
        )
        observation = Observation(conditions.APPROVAL_PENDING, True, "AwaitingApproval", message)
        event = ("Normal", "ApprovalPending", f"{message}; changes: {'; '.join(summary[:5])}")
    said = previous.get("hash") == current and _decision_shown(status, observation)
    return Plan(
        target=target,
        status={"pendingChange": pending},
        observation=observation,
        event=None if said else event,
    )


def _decision_shown(status: dict[str, Any], observation: Observation) -> bool:
    shown = conditions.find(status.get("conditions", []), conditions.APPROVAL_PENDING)
    return shown is not None and shown.get("reason") == observation.reason
