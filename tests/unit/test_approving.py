"""Which spec may be applied, decided from the spec and the status alone."""

from __future__ import annotations

from typing import Any

from techsapo_operator import approving, models, rendering
from tests import examples

NOW = "2026-12-01T00:00:00Z"
NEW_IMAGE = "ghcr.io/techsapo/techsapo:1.5.0"


def production(changes: dict[str, Any] | None = None, *, generation: int = 1) -> models.TechSapo:
    techsapo = examples.techsapo("production", changes)
    return techsapo.model_copy(
        update={"metadata": techsapo.metadata.model_copy(update={"generation": generation})}
    )


def approved_status(techsapo: models.TechSapo) -> dict[str, Any]:
    """The status after an admin approved this TechSapo's spec."""
    plan = approving._record(techsapo, approving.spec_hash(techsapo.spec), "alice", NOW)
    return {"approved": plan.status["approved"]}


def test_dev_applies_at_once_and_records_a_baseline() -> None:
    dev = examples.techsapo("dev")
    plan = approving.plan(dev, {}, now=NOW)
    assert plan.target is dev
    assert plan.observation is None
    assert plan.status["approved"]["approvedBy"] == "no approval required in dev"
    assert approving.plan(dev, {"approved": plan.status["approved"]}, now=NOW).status == {
        "pendingChange": None
    }


def test_a_new_production_instance_applies_nothing_until_approved() -> None:
    plan = approving.plan(production(), {}, now=NOW)
    assert plan.target is None
    assert plan.waiting
    assert plan.status["pendingChange"]["hash"] == approving.spec_hash(production().spec)
    assert "add Deployment techsapo-api" in plan.status["pendingChange"]["summary"]
    assert plan.event is not None and plan.event[1] == "ApprovalPending"


def test_first_creation_applies_when_the_setting_says_so() -> None:
    techsapo = production({"approval.applyFirstCreation": True})
    plan = approving.plan(techsapo, {}, now=NOW)
    assert plan.target is techsapo
    assert plan.status["approved"]["approvedBy"] == approving.FIRST_CREATION
    assert not plan.waiting


def test_a_change_keeps_the_approved_children_and_says_what_would_change() -> None:
    status = approved_status(production())
    changed = production({"image": NEW_IMAGE}, generation=2)
    plan = approving.plan(changed, status, now=NOW)
    assert plan.waiting
    assert plan.target is not None and plan.target.spec.image == production().spec.image
    assert rendering.render(plan.target) == rendering.render(production())
    summary = plan.status["pendingChange"]["summary"]
    expected = (
        f"Deployment techsapo-api .spec.template.spec.containers[api-server].image: "
        f'"ghcr.io/techsapo/techsapo:1.4.2" -> "{NEW_IMAGE}"'
    )
    assert expected in summary
    assert plan.status["pendingChange"]["generation"] == 2


def test_an_approval_of_the_current_hash_applies_it() -> None:
    changed = production({"image": NEW_IMAGE}, generation=2)
    current = approving.spec_hash(changed.spec)
    status = {**approved_status(production()), "approval": {"hash": current, "user": "alice", "time": NOW}}
    plan = approving.plan(changed, status, now=NOW)
    assert plan.target is changed
    assert (plan.status["approved"]["hash"], plan.status["approved"]["approvedBy"]) == (current, "alice")
    assert plan.status["pendingChange"] is None
    assert plan.event is not None and plan.event[1] == "ChangeApproved"


def test_an_approval_of_an_older_hash_applies_nothing_new() -> None:
    old = production({"image": NEW_IMAGE}, generation=2)
    status = {
        **approved_status(production()),
        "approval": {"hash": approving.spec_hash(old.spec), "user": "alice", "time": NOW},
    }
    plan = approving.plan(
        production({"image": "ghcr.io/techsapo/techsapo:1.6.0"}, generation=3), status, now=NOW
    )
    assert plan.waiting
    assert plan.target is not None and plan.target.spec.image == production().spec.image


def test_a_denial_says_who_and_why() -> None:
    changed = production({"image": NEW_IMAGE}, generation=2)
    denial = {"hash": approving.spec_hash(changed.spec), "user": "alice", "time": NOW, "reason": "freeze"}
    plan = approving.plan(changed, {**approved_status(production()), "denial": denial}, now=NOW)
    assert plan.observation is not None and plan.observation.reason == "Denied"
    assert "denied by alice: freeze" in plan.observation.message
    assert plan.target is not None and plan.target.spec.image == production().spec.image


def test_the_pending_event_is_said_once_per_change() -> None:
    changed = production({"image": NEW_IMAGE}, generation=2)
    first = approving.plan(changed, approved_status(production()), now=NOW)
    conditions = [{"type": "ApprovalPending", "status": "True", "reason": "AwaitingApproval"}]
    again = approving.plan(
        changed,
        {**approved_status(production()), **first.status, "conditions": conditions},
        now="2026-12-01T01:00:00Z",
    )
    assert first.event is not None and again.event is None
    assert again.status["pendingChange"]["since"] == NOW


def test_a_spec_change_that_renders_the_same_children_needs_no_approval() -> None:
    status = approved_status(production())
    same = production(
        {"apiServer.resources": {"limits": {"cpu": 2}}}, generation=2
    )  # the profile's own value
    plan = approving.plan(same, status, now=NOW)
    assert not plan.waiting
    assert plan.target is same
    assert plan.status["approved"]["approvedBy"] == "alice"


def test_the_hash_ignores_how_quantities_are_written() -> None:
    as_number = examples.techsapo("dev", {"apiServer.resources": {"limits": {"cpu": 2}}})
    as_string = examples.techsapo("dev", {"apiServer.resources": {"limits": {"cpu": "2"}}})
    assert approving.spec_hash(as_number.spec) == approving.spec_hash(as_string.spec)


def test_summary_names_added_removed_and_changed_children() -> None:
    before = rendering.render(examples.techsapo("dev"))
    after = rendering.render(examples.techsapo("dev", {"redis.mode": "cluster", "wallBounce.workers": 3}))
    summary = approving.summarize(before, after)
    assert "add StatefulSet techdev-redis-cluster" in summary
    assert "remove StatefulSet techdev-redis" in summary
    assert "Deployment techdev-wall-bounce .spec.replicas: 1 -> 3" in summary
