"""Instances the API server accepted but the operator cannot realise, among good ones: each bad one
is Stalled with a reason that says what to do, the good ones converge regardless, and the bad ones
recover as soon as the cause is fixed."""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube
from tests.integration.faults import fleet
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member
from tests.integration.techsapos import condition, events

GOOD_SECONDS = 90
"""Bound: the good instances are Ready this long after creation, with the bad ones stuck."""
RECOVER_SECONDS = 90
"""Bound: a bad instance is Ready this long after its cause is fixed (the quota change wakes it)."""


def quota(namespace: str, hard: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "limits", "namespace": namespace},
        "spec": {"hard": hard},
    }


def stalled_reason(body: dict[str, Any]) -> tuple[str, str] | None:
    found = condition(body, "Stalled")
    return (found["reason"], found["message"]) if found and found["status"] == "True" else None


def test_unrealisable_instances_stall_with_a_reason_without_blocking_the_others(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    good_space, count_space, storage_space = namespaces("good"), namespaces("count"), namespaces("storage")
    for document in (
        quota(count_space, {"count/deployments.apps": "1"}),
        quota(storage_space, {"requests.storage": "4Gi"}),
    ):
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(document))
    over_count = [Member(count_space, f"dev-{n}") for n in range(2)]
    over_storage = [Member(storage_space, "stage")]
    good = [Member(good_space, f"dev-{n}") for n in range(10)]
    start_operator([good_space, count_space, storage_space])

    fleet.apply_all(
        cluster, [*(fleet.document(m, "dev") for m in over_count), fleet.document(over_storage[0], "staging")]
    )
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in good))
    bodies = fleet.wait_settled(api, good, timeout=GOOD_SECONDS)
    fleet.wait_children_exact(cluster, bodies, [good_space])

    def all_stalled() -> dict[Member, tuple[str, str] | None] | None:
        found = fleet.read_all(api, [count_space, storage_space])
        reasons = {m: stalled_reason(found[m]) for m in [*over_count, *over_storage] if m in found}
        return reasons if len(reasons) == 3 and all(reasons.values()) else None

    reasons = kube.wait_for(all_stalled, what="every bad instance Stalled", timeout=60)
    for member in over_count:
        reason, message = reasons[member]
        assert reason == "ApplyFailed" and "exceeded quota: limits" in message, (member, message)
    reason, message = reasons[over_storage[0]]
    assert reason == "QuotaExceeded", message
    assert "the Redis volumes need 12Gi of requests.storage, but only 4Gi of 4Gi is left" in message
    assert "raise the quota, or lower spec.redis.storage.size" in message
    assert any("the Redis volumes need 12Gi" in m for m in events(api, storage_space, "QuotaExceeded"))
    assert not client.AppsV1Api(api).list_namespaced_stateful_set(storage_space).items  # nothing half-made

    fixed = time.monotonic()
    cluster.kubectl("-n", count_space, "delete", "resourcequota", "limits")
    cluster.kubectl(
        "-n",
        storage_space,
        "patch",
        "resourcequota",
        "limits",
        "--type=merge",
        "-p",
        '{"spec":{"hard":{"requests.storage":"20Gi"}}}',
    )
    bodies = fleet.wait_settled(api, [*over_count, *over_storage], timeout=RECOVER_SECONDS)
    print(f"the bad instances recovered {time.monotonic() - fixed:.1f}s after the fix")
    fleet.wait_children_exact(cluster, bodies, [count_space, storage_space])
