"""Many TechSapo instances at once, for the fault tests: apply them in one go, wait for all, and
check that the live children are exactly what the renderer wants, with nothing duplicated or orphaned."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from kubernetes import client

from controlplane import cluster as local_cluster
from techsapo_operator import kinds, rendering, validation
from techsapo_operator.reconciling import InstanceKey
from techsapo_operator.rendering import meta
from tests import examples
from tests.integration import kube
from tests.integration.techsapos import GROUP, PLURAL, VERSION, condition

Member = InstanceKey
"""An instance by namespace and name, as the operator keys it."""


def document(member: Member, environment: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """An example as a TechSapo named after member; production applies its first version at once."""
    all_changes = dict(changes or {})
    if environment == "production":
        all_changes.setdefault("approval.applyFirstCreation", True)
    body = examples.with_changes(environment, all_changes)
    body["metadata"] = {"name": member.name, "namespace": member.namespace}
    return body


def apply_all(cluster: local_cluster.Cluster, documents: Iterable[dict[str, Any]]) -> None:
    """Apply as a GitOps tool would, with its own field manager, in one request batch."""
    listed = {"apiVersion": "v1", "kind": "List", "items": list(documents)}
    cluster.kubectl("apply", "--server-side", "--field-manager=gitops", "-f", "-", stdin=json.dumps(listed))


def read_all(api: client.ApiClient, namespaces: Iterable[str]) -> dict[Member, dict[str, Any]]:
    custom = client.CustomObjectsApi(api)
    found = {}
    for namespace in namespaces:
        for body in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]:
            found[Member(namespace, body["metadata"]["name"])] = body
    return found


def is_ready(body: dict[str, Any]) -> bool:
    ready = condition(body, "Ready")
    current = body.get("status", {}).get("observedGeneration") == body["metadata"]["generation"]
    return bool(ready and ready["status"] == "True" and current)


def settled(body: dict[str, Any]) -> bool:
    """Ready at the current generation, or waiting for an admin's approval of it."""
    pending = condition(body, "ApprovalPending")
    current = body.get("status", {}).get("observedGeneration") == body["metadata"]["generation"]
    return is_ready(body) or bool(current and pending and pending["status"] == "True")


def wait_settled(
    api: client.ApiClient, members: Iterable[Member], *, timeout: float
) -> dict[Member, dict[str, Any]]:
    """Wait until every member is settled; the error lists the ones that are not, with their Ready."""
    wanted = set(members)
    namespaces = {m.namespace for m in wanted}
    deadline = time.monotonic() + timeout
    while True:
        bodies = read_all(api, namespaces)
        missing = sorted(m for m in wanted if m not in bodies or not settled(bodies[m]))
        if not missing:
            return bodies
        if time.monotonic() > deadline:
            shown = [
                f"{m}: {condition(bodies[m], 'Ready') if m in bodies else 'absent'}" for m in missing[:5]
            ]
            raise AssertionError(
                f"{len(missing)} instances not settled after {timeout:g}s:\n" + "\n".join(shown)
            )
        time.sleep(1)


def expected_children(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    """What the renderer wants for this live instance, from the spec that was last approved."""
    approved = body.get("status", {}).get("approved", {}).get("spec")
    source = {**body, "spec": approved} if approved else body
    techsapo = validation.parse(source)
    return {
        (child["kind"], child["metadata"]["namespace"], child["metadata"]["name"])
        for child in rendering.render(techsapo)
    }


def managed_children(cluster: local_cluster.Cluster, namespaces: Iterable[str]) -> list[dict[str, Any]]:
    plurals = ",".join(
        f"{kind.plural}.{kind.group}" if kind.group else kind.plural for kind in kinds.CHILDREN
    )
    found: list[dict[str, Any]] = []
    for namespace in namespaces:
        listed = cluster.kubectl(
            "get", plurals, "-n", namespace, "-l", f"{meta.MANAGED_BY_LABEL}={meta.MANAGED_BY}", "-o", "json"
        )
        found += json.loads(listed.stdout)["items"]
    return found


def child_problems(
    cluster: local_cluster.Cluster, bodies: dict[Member, dict[str, Any]], namespaces: Iterable[str]
) -> list[str]:
    """Every child that should not exist, is missing, or is owned by the wrong (or no live) instance."""
    uids = {body["metadata"]["uid"]: member for member, body in bodies.items()}
    wanted = {key: member for member, body in bodies.items() for key in expected_children(body)}
    problems = []
    seen = set()
    for child in managed_children(cluster, namespaces):
        if child["metadata"].get("deletionTimestamp"):
            continue  # the garbage collector is removing it
        key = (child["kind"], child["metadata"]["namespace"], child["metadata"]["name"])
        seen.add(key)
        owners = [r["uid"] for r in child["metadata"].get("ownerReferences", []) if r.get("controller")]
        if key not in wanted:
            problems.append(f"unwanted {key}, owners {owners}")
        elif owners != [bodies[wanted[key]]["metadata"]["uid"]] or owners[0] not in uids:
            problems.append(f"{key} has the controller references {owners}, not {wanted[key]}")
    problems += [f"missing {key} of {wanted[key]}" for key in sorted(set(wanted) - seen)]
    return problems


def wait_children_exact(
    cluster: local_cluster.Cluster,
    bodies: dict[Member, dict[str, Any]],
    namespaces: Iterable[str],
    *,
    timeout: float = 60,
) -> None:
    """Wait until the live children are exactly the rendered ones (deleted instances' children go
    with the garbage collector, which takes a moment)."""
    listed = list(namespaces)
    last: list[str] = []

    def exact() -> bool:
        nonlocal last
        last = child_problems(cluster, bodies, listed)
        return not last

    try:
        kube.wait_for(exact, what="the live children to be exactly the rendered ones", timeout=timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}:\n" + "\n".join(last[:20])) from None
