"""Competing writers: other field managers keep changing fields the operator owns, while a GitOps
writer changes the spec again and again. When they stop, the children are what the last spec
wants and observedGeneration equals generation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from controlplane import cluster as local_cluster
from techsapo_operator.rendering import meta
from tests.integration import operators
from tests.integration.faults import fleet
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member

CONTEST_SECONDS = 20
SETTLE_SECONDS = 60
"""Bound: converged this long after the last writer stopped."""
ROGUE_IMAGE = "registry.example/rogue:6.6.6"


class Writer:
    """Runs one write again and again in a thread until stopped; counts the writes that went in."""

    def __init__(self, write: Callable[[int], bool], pause: float) -> None:
        self.write = write
        self.pause = pause
        self.stopping = threading.Event()
        self.accepted = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Writer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(60)

    def _loop(self) -> None:
        round_ = 0
        while not self.stopping.is_set():
            round_ += 1
            self.accepted += self.write(round_)
            self.stopping.wait(self.pause)


def test_the_end_state_is_the_desired_state_despite_competing_writers(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    space = namespaces("writers")
    members = [Member(space, f"dev-{n}") for n in range(3)]
    operator = start_operator([space])
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in members))
    fleet.wait_settled(api, members, timeout=120)
    target = members[0]
    workers = f"{target.name}-wall-bounce"

    def rogue_apply(_: int) -> bool:
        """Server-side apply, forced, by a manager of its own: takes the replicas and the image."""
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": workers, "namespace": space},
            "spec": {
                "replicas": 7,
                "template": {"spec": {"containers": [{"name": "wall-bounce", "image": ROGUE_IMAGE}]}},
            },
        }
        result = cluster.kubectl(
            *("apply", "--server-side", "--force-conflicts", "--field-manager=rogue", "-f", "-"),
            stdin=json.dumps(patch),
            check=False,
        )
        return result.returncode == 0

    def rogue_update(_: int) -> bool:
        """A plain update (kubectl edit, a script): changes a label the operator owns."""
        result = cluster.kubectl(
            *("-n", space, "label", "deployment", f"{target.name}-api", f"{meta.COMPONENT_LABEL}=hijacked"),
            "--overwrite",
            check=False,
        )
        return result.returncode == 0

    def gitops(round_: int) -> bool:
        """The spec itself, changed again and again, as a busy Git history would."""
        fleet.apply_all(
            cluster, (fleet.document(m, "dev", {"wallBounce.workers": 1 + round_ % 4}) for m in members)
        )
        return True

    writers = [
        Writer(rogue_apply, 0.3).start(),
        Writer(rogue_update, 0.3).start(),
        Writer(gitops, 1.0).start(),
    ]
    time.sleep(CONTEST_SECONDS)
    for writer in writers:
        writer.stop()
    assert all(writer.accepted > 5 for writer in writers), [w.accepted for w in writers]

    bodies = fleet.wait_settled(api, members, timeout=SETTLE_SECONDS)
    for member, body in bodies.items():
        assert body["status"]["observedGeneration"] == body["metadata"]["generation"], member
    fleet.wait_children_exact(cluster, bodies, [space])
    operators.wait_until_quiet(operator, settle=3)
    last_workers = bodies[target]["spec"]["wallBounce"]["workers"]
    apps = client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment(workers, space)
    assert deployment.spec.replicas == last_workers
    assert deployment.spec.template.spec.containers[0].image == bodies[target]["spec"]["image"]
    assert (
        apps.read_namespaced_deployment(f"{target.name}-api", space).metadata.labels[meta.COMPONENT_LABEL]
        == "api-server"
    )
    assert operator.metric("techsapo_drift_corrections_total") > 0
