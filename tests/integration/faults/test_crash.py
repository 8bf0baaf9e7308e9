"""The operator killed (SIGKILL) at random points while 20 instances are created, changed, deleted
and approved, and stopped while changes pile up: nothing is lost, duplicated, orphaned or stuck,
and an unapproved production change is never applied.

The kill points come from a seeded generator; the seed is printed, and TECHSAPO_FAULT_SEED=N
repeats a run.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from techsapo_operator.rendering import meta
from tests.integration import kube, operators
from tests.integration.faults import fleet
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member
from tests.integration.techsapos import cli

pytestmark = pytest.mark.usefixtures("installed", "approvers")

NEW_IMAGE = "ghcr.io/techsapo/techsapo:1.5.0"
CONVERGE_SECONDS = 180
"""Bound: every instance settles this long after the last restart."""


def seeded() -> random.Random:
    seed = int(os.environ.get("TECHSAPO_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
    print(f"fault seed {seed} (TECHSAPO_FAULT_SEED={seed} repeats these kill points)")
    return random.Random(seed)


def kill_and_restart(operator: operators.OperatorProcess, rng: random.Random, step: str) -> None:
    """Let the operator work for a random moment, then SIGKILL it and start it again."""
    delay = rng.uniform(0.1, 2.5)
    time.sleep(delay)
    print(f"{step}: SIGKILL after {delay:.2f}s")
    operator.stop(kill=True)
    operator.start()


def deployment_image(api: client.ApiClient, namespace: str, name: str) -> str:
    deployment = client.AppsV1Api(api).read_namespaced_deployment(f"{name}-api", namespace)
    return str(deployment.spec.template.spec.containers[0].image)


def pending_hash(api: client.ApiClient, member: Member, generation: int) -> str:
    def found() -> str | None:
        body = fleet.read_all(api, [member.namespace])[member]
        change = body.get("status", {}).get("pendingChange") or {}
        return change.get("hash") if change.get("generation") == generation else None

    return str(kube.wait_for(found, what=f"the pending change of {member}", timeout=60))


def test_killed_at_random_points_while_twenty_instances_change_loses_nothing(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    rng = seeded()
    spaces = {environment: namespaces(environment[:4]) for environment in ("dev", "staging", "production")}
    members = {Member(spaces["dev"], f"dev-{n}"): "dev" for n in range(14)}
    members |= {Member(spaces["staging"], f"stage-{n}"): "staging" for n in range(2)}
    members |= {Member(spaces["production"], f"prod-{n}"): "production" for n in range(4)}
    operator = start_operator(list(spaces.values()), resync_seconds=60)

    fleet.apply_all(cluster, (fleet.document(m, e) for m, e in members.items()))
    kill_and_restart(operator, rng, "while creating 20 instances")

    dev = sorted(m for m, e in members.items() if e == "dev")
    changed = rng.sample(dev, 6)
    deleted = rng.sample([m for m in dev if m not in changed], 4)
    fleet.apply_all(cluster, (fleet.document(m, "dev", {"wallBounce.workers": 3}) for m in changed))
    cluster.kubectl("-n", spaces["dev"], "delete", "techsapo", *(m.name for m in deleted), "--wait=false")
    kill_and_restart(operator, rng, "while changing 6 and deleting 4")

    production = sorted(m for m, e in members.items() if e == "production")
    fleet.wait_settled(api, production, timeout=CONVERGE_SECONDS)
    to_approve, to_leave = production[0], production[1]
    old_image = deployment_image(api, to_leave.namespace, to_leave.name)
    fleet.apply_all(cluster, (fleet.document(m, "production", {"image": NEW_IMAGE}) for m in production[:2]))
    approved_hash = pending_hash(api, to_approve, 2)
    left_hash = pending_hash(api, to_leave, 2)
    operator.stop(kill=True)
    approval = cli(
        cluster,
        *("approve", to_approve.name, "-n", to_approve.namespace, "--hash", approved_hash),
        user="alice",
        groups=("techsapo-admins",),
    )
    assert approval.returncode == 0, approval.stderr
    operator.start()
    kill_and_restart(operator, rng, "while applying an approval")

    remaining = [m for m in members if m not in deleted]
    bodies = fleet.wait_settled(api, remaining, timeout=CONVERGE_SECONDS)
    assert set(fleet.read_all(api, spaces.values())) == set(remaining)  # the deleted ones are gone
    fleet.wait_children_exact(cluster, bodies, spaces.values())
    for member in changed:
        workers = client.AppsV1Api(api).read_namespaced_deployment(
            f"{member.name}-wall-bounce", member.namespace
        )
        assert workers.spec.replicas == 3, member

    record = bodies[to_approve]["status"]["approved"]
    assert (record["hash"], record["generation"], record["approvedBy"]) == (approved_hash, 2, "alice")
    assert deployment_image(api, to_approve.namespace, to_approve.name) == NEW_IMAGE
    assert bodies[to_leave]["status"]["pendingChange"]["hash"] == left_hash  # still waiting, not lost
    assert deployment_image(api, to_leave.namespace, to_leave.name) == old_image  # never applied

    operators.wait_until_quiet(operator, settle=5)
    generations = {
        m: client.AppsV1Api(api).read_namespaced_deployment(f"{m.name}-api", m.namespace).metadata.generation
        for m in production
    }
    operator.stop(kill=True)
    operator.start()
    operators.wait_until_quiet(operator, settle=5)
    assert operator.writes() == 0  # a restart on the converged fleet writes nothing: nothing applied twice
    assert generations == {
        m: client.AppsV1Api(api).read_namespaced_deployment(f"{m.name}-api", m.namespace).metadata.generation
        for m in production
    }


def test_changes_and_deletions_made_while_the_operator_is_down_are_all_reconciled(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    space = namespaces("down")
    members = [Member(space, f"dev-{n}") for n in range(6)]
    operator = start_operator([space])
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in members))
    fleet.wait_settled(api, members, timeout=CONVERGE_SECONDS)

    operator.stop()
    changed, deleted, kept = members[:2], members[2:4], members[4:]
    added = [Member(space, "dev-new")]
    fleet.apply_all(cluster, (fleet.document(m, "dev", {"redis.mode": "cluster"}) for m in changed))
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in added))
    cluster.kubectl("-n", space, "delete", "techsapo", *(m.name for m in deleted), "--wait=true")
    operator.start()

    bodies = fleet.wait_settled(api, [*changed, *kept, *added], timeout=CONVERGE_SECONDS)
    assert set(bodies) == {*changed, *kept, *added}
    fleet.wait_children_exact(cluster, bodies, [space])
    for member in changed:
        sets = client.AppsV1Api(api).list_namespaced_stateful_set(
            space, label_selector=f"{meta.INSTANCE_LABEL}={member.name}"
        )
        assert [s.metadata.name for s in sets.items] == [f"{member.name}-redis-cluster"]
