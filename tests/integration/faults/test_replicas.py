"""Two operator replicas with leader election on a Lease: one acts, the other waits and writes
nothing, and takes over within a bound when the leader is killed or hands over when it stops."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators
from tests.integration.faults import fleet
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member

LEASE_SECONDS, RENEW_DEADLINE_SECONDS, RETRY_SECONDS = 6, 4, 1
TAKEOVER_BOUND_SECONDS = LEASE_SECONDS + 2 * RETRY_SECONDS + 3
"""A standby leads this long after the leader died at most: the lease runs out, the next try takes it
(the extra 3 s are for reading the metric)."""
HANDOVER_BOUND_SECONDS = 2 * RETRY_SECONDS + 8
"""From SIGTERM to the next replica leading: the clean stop (a few seconds of kopf's shutdown) ends by
releasing the lease, and the standby's next try takes it."""


def leader(process: operators.OperatorProcess) -> bool:
    return process.metric("techsapo_leader") == 1


def test_one_replica_acts_and_the_other_takes_over_when_it_dies(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    space = namespaces("ha")
    election = (
        "--leader-elect",
        f"--leader-election-namespace={space}",
        f"--leader-election-id=lead-{uuid.uuid4().hex[:6]}",
        f"--lease-seconds={LEASE_SECONDS}",
        f"--renew-deadline-seconds={RENEW_DEADLINE_SECONDS}",
        f"--retry-seconds={RETRY_SECONDS}",
    )
    first = start_operator([space], extra_arguments=election)
    kube.wait_for(lambda: leader(first), what="the first replica to lead", timeout=30)
    second = start_operator([space], extra_arguments=election)
    members = [Member(space, f"dev-{n}") for n in range(3)]
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in members))
    fleet.wait_settled(api, members, timeout=120)
    operators.wait_until_quiet(first)

    assert not leader(second)
    assert first.writes() > 0
    assert second.writes() == 0  # the standby saw every event and wrote nothing

    first.stop(kill=True)
    killed_at = time.monotonic()
    fleet.apply_all(cluster, (fleet.document(m, "dev", {"wallBounce.workers": 3}) for m in members))
    kube.wait_for(lambda: leader(second), what="the standby to lead", timeout=TAKEOVER_BOUND_SECONDS)
    takeover = time.monotonic() - killed_at
    print(f"takeover after SIGKILL of the leader: {takeover:.1f}s (bound {TAKEOVER_BOUND_SECONDS}s)")
    bodies = fleet.wait_settled(api, members, timeout=60)
    assert all(b["status"]["observedGeneration"] == 2 for b in bodies.values())
    fleet.wait_children_exact(cluster, bodies, [space])
    assert second.writes() > 0

    third = start_operator([space], extra_arguments=election)
    time.sleep(2 * RETRY_SECONDS)
    assert not leader(third)
    assert third.writes() == 0
    stopped_at = time.monotonic()
    second.stop()  # SIGTERM: a clean stop releases the lease
    remaining = HANDOVER_BOUND_SECONDS - (time.monotonic() - stopped_at)
    kube.wait_for(lambda: leader(third), what="the next replica to lead", timeout=max(remaining, 0.5))
    print(
        f"handover after a clean stop: {time.monotonic() - stopped_at:.1f}s (bound {HANDOVER_BOUND_SECONDS}s)"
    )
    assert "released Lease" in second.log.read_text()
