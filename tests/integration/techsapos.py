"""TechSapo helpers for integration tests: apply as GitOps would, read, wait for Ready, list children."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, cast

from kubernetes import client

from controlplane import cluster as local_cluster
from techsapo_operator import kinds, rendering
from techsapo_operator.rendering import meta
from tests import examples
from tests.integration import kube

GROUP, VERSION, PLURAL = "techsapo.io", "v1alpha1", "techsapos"


def apply_techsapo(
    cluster: local_cluster.Cluster,
    namespace: str,
    environment: str,
    changes: dict[str, Any] | None = None,
    *,
    first_creation_approved: bool = True,
    as_user: str | None = None,
) -> dict[str, Any]:
    """Apply an example as a GitOps tool would (its own field manager), in the test namespace.

    Production waits for an admin's approval before anything is applied; tests that are not about
    approval create it with ``approval.applyFirstCreation`` so that its first version applies at once.
    """
    all_changes = dict(changes or {})
    if environment == "production" and first_creation_approved:
        all_changes.setdefault("approval.applyFirstCreation", True)
    document = examples.with_changes(environment, all_changes)
    document["metadata"]["namespace"] = namespace
    impersonation = [f"--as={as_user}"] if as_user else []
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=gitops",
        *impersonation,
        "-f",
        "-",
        stdin=json.dumps(document),
    )
    return document


def read(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return cast(dict[str, Any], body)


def condition(body: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in body.get("status", {}).get("conditions", []) if c["type"] == type_), None)


def wait_ready(api: client.ApiClient, namespace: str, name: str, *, timeout: float = 90) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        body = read(api, namespace, name)
        found = condition(body, "Ready")
        current = body.get("status", {}).get("observedGeneration") == body["metadata"]["generation"]
        return body if found and found["status"] == "True" and current else None

    try:
        result: dict[str, Any] = kube.wait_for(
            ready, what=f"TechSapo {namespace}/{name} Ready=True", timeout=timeout
        )
    except AssertionError as error:
        body = read(api, namespace, name)
        raise AssertionError(
            f"{error}\nstatus: {json.dumps(body.get('status'), indent=1)}\n"
            f"generation: {body['metadata']['generation']}"
        ) from None
    return result


def live_children(cluster: local_cluster.Cluster, namespace: str, name: str) -> set[tuple[str, str]]:
    selector = f"{meta.INSTANCE_LABEL}={name},{meta.MANAGED_BY_LABEL}={meta.MANAGED_BY}"
    plurals = ",".join(
        f"{kind.plural}.{kind.group}" if kind.group else kind.plural for kind in kinds.CHILDREN
    )
    listed = json.loads(cluster.kubectl("get", plurals, "-n", namespace, "-l", selector, "-o", "json").stdout)
    return {(item["kind"], item["metadata"]["name"]) for item in listed["items"]}


def rendered(namespace: str, environment: str, changes: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    techsapo = examples.techsapo(environment, changes)
    techsapo = techsapo.model_copy(
        update={"metadata": techsapo.metadata.model_copy(update={"namespace": namespace})}
    )
    return {(child["kind"], child["metadata"]["name"]) for child in rendering.render(techsapo)}


def events(api: client.ApiClient, namespace: str, reason: str) -> list[str]:
    listed = client.CoreV1Api(api).list_namespaced_event(namespace, field_selector=f"reason={reason}")
    return [event.message or "" for event in listed.items]


def name_of(environment: str) -> str:
    return str(examples.document(environment)["metadata"]["name"])


def cli(
    cluster: local_cluster.Cluster, *arguments: str, user: str, groups: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """techsapo-operator approve/deny/status, as a user would run it (kubectl techsapo ... does the same)."""
    impersonation = [f"--as={user}", *(f"--as-group={group}" for group in groups)]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "techsapo_operator",
            *arguments,
            "--kubeconfig",
            str(cluster.kubeconfig),
            *impersonation,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
