"""Real server errors and real throttling from the API server: the operator backs off without a
request storm, says what is wrong in status and Events, and converges once the fault is gone.

- 500: a validating webhook for the instances' Deployments on a closed loopback port, so that the
  API server fails every such write with an InternalError.
- 429: API Priority and Fairness. A FlowSchema sends the operator's Deployment writes, and the
  requests of a second identity (the hog), to a priority level with no seats that rejects instead
  of queueing. APF still runs one request when none runs, so the hog keeps one in flight all the
  time: its ConfigMap creations wait 10 s on a webhook that accepts the connection and never answers.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators
from tests.integration.faults import fleet
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member
from tests.integration.techsapos import condition, events

pytestmark = pytest.mark.usefixtures("installed")

INSTANCES = 3
WINDOW_SECONDS = 20
MAX_REQUESTS_PER_SECOND_PER_INSTANCE = 1.0
"""Bound while an instance is stuck: exponential backoff (1, 2, 4 ... s) keeps it well below this."""
RECOVER_SECONDS = 90
"""Bound: converged this long after the fault is removed (the backoff then is at most ~64 s)."""
OPERATOR_ACCOUNT = ("techsapo-system", "techsapo-operator")


def webhook(name: str, namespace: str, resource: str, group: str, port: int, *, fail: bool) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.faults.techsapo.io",
                "clientConfig": {"url": f"https://127.0.0.1:{port}/validate"},
                "rules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [resource],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": "Fail" if fail else "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
            }
        ],
    }


@contextlib.contextmanager
def unanswering_port() -> Iterator[int]:
    """A listening port that never accepts: connections complete and then hear nothing."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def apply(cluster: local_cluster.Cluster, *documents: dict[str, Any]) -> None:
    cluster.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})
    )


def stuck_fleet(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    space: str,
    operator: operators.OperatorProcess,
    reason: str,
) -> list[Member]:
    """Create the instances and wait until each says, in status, that the API refuses its writes."""
    members = [Member(space, f"dev-{n}") for n in range(INSTANCES)]
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in members))

    def all_stalled() -> bool:
        bodies = fleet.read_all(api, [space])
        stalled = [condition(bodies[m], "Stalled") if m in bodies else None for m in members]
        return all(s and s["status"] == "True" and reason in s["message"] for s in stalled)

    kube.wait_for(all_stalled, what=f"every instance Stalled with {reason!r}", timeout=60)
    ready = condition(fleet.read_all(api, [space])[members[0]], "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ApplyFailed", ready
    assert any(reason in message for message in events(api, space, "ApplyFailed"))
    return members


def requests_per_second_per_instance(operator: operators.OperatorProcess) -> float:
    before = operator.requests()
    time.sleep(WINDOW_SECONDS)
    rate = (operator.requests() - before) / WINDOW_SECONDS / INSTANCES
    print(f"while stuck: {rate:.2f} requests/s per instance (bound {MAX_REQUESTS_PER_SECOND_PER_INSTANCE})")
    return rate


def test_server_errors_are_backed_off_reported_and_recovered_from(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
) -> None:
    space = namespaces("500")
    name = f"f-fail-{uuid.uuid4().hex[:6]}"
    closed = operators.free_port()  # free again once found: connecting to it is refused
    apply(cluster, webhook(name, space, "deployments", "apps", closed, fail=True))
    try:
        operator = start_operator([space])
        members = stuck_fleet(cluster, api, space, operator, "InternalError")
        assert requests_per_second_per_instance(operator) < MAX_REQUESTS_PER_SECOND_PER_INSTANCE
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", name)
    removed = time.monotonic()
    bodies = fleet.wait_settled(api, members, timeout=RECOVER_SECONDS)
    print(f"converged {time.monotonic() - removed:.1f}s after the webhook was removed")
    fleet.wait_children_exact(cluster, bodies, [space])


def throttling(space: str, hog: str, name: str) -> list[dict[str, Any]]:
    level = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 0,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name},
        "spec": {
            "priorityLevelConfiguration": {"name": name},
            "matchingPrecedence": 50,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "serviceAccount": {"namespace": OPERATOR_ACCOUNT[0], "name": OPERATOR_ACCOUNT[1]},
                        }
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["patch"],
                            "apiGroups": ["apps"],
                            "resources": ["deployments"],
                            "namespaces": [space],
                        }
                    ],
                },
                {
                    "subjects": [
                        {"kind": "ServiceAccount", "serviceAccount": {"namespace": hog, "name": "hog"}}
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["create"],
                            "apiGroups": [""],
                            "resources": ["configmaps"],
                            "namespaces": [hog],
                        }
                    ],
                },
            ],
        },
    }
    return [level, schema]


class Hog:
    """Keeps one slow request of the throttled flow in flight at all times, from two threads."""

    def __init__(self, cluster: local_cluster.Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(2)]

    def start(self) -> Hog:
        for thread in self.threads:
            thread.start()
            time.sleep(1)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def _loop(self, number: int) -> None:
        count = 0
        while not self.stopping.is_set():
            count += 1
            self.cluster.kubectl(
                *("-n", self.namespace, "create", "configmap", f"hog-{number}-{count}"),
                f"--as=system:serviceaccount:{self.namespace}:hog",
                check=False,
                timeout=60,
            )
            self.stopping.wait(0.2)


def test_throttling_is_backed_off_reported_and_recovered_from(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
    operator_kubeconfig: pathlib.Path,
) -> None:
    space, hog_space = namespaces("429"), namespaces("hog")
    cluster.kubectl("-n", hog_space, "create", "serviceaccount", "hog")
    cluster.kubectl(
        "-n",
        hog_space,
        "create",
        "rolebinding",
        "hog",
        "--clusterrole=edit",
        f"--serviceaccount={hog_space}:hog",
    )
    name = f"f-throttle-{uuid.uuid4().hex[:6]}"
    with unanswering_port() as port:
        apply(
            cluster,
            webhook(name, hog_space, "configmaps", "", port, fail=False),
            *throttling(space, hog_space, name),
        )
        hog = Hog(cluster, hog_space).start()
        try:
            operator = start_operator([space], kubeconfig=operator_kubeconfig)
            members = stuck_fleet(cluster, api, space, operator, "429 Too Many Requests")
            assert operator.metric("techsapo_api_requests_total", code="429") > 0
            assert requests_per_second_per_instance(operator) < MAX_REQUESTS_PER_SECOND_PER_INSTANCE
        finally:
            cluster.kubectl("delete", "flowschema", name)
            removed = time.monotonic()
            cluster.kubectl("delete", "prioritylevelconfiguration", name)
            cluster.kubectl("delete", "validatingwebhookconfiguration", name)
            hog.stop()
    bodies = fleet.wait_settled(api, members, timeout=RECOVER_SECONDS)
    print(f"converged {time.monotonic() - removed:.1f}s after the throttling was removed")
    fleet.wait_children_exact(cluster, bodies, [space])
