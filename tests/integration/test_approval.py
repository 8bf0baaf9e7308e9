"""Admin approval of production changes, behind the API server's own RBAC boundary.

Identities are impersonated by the admin kubeconfig, as kubectl --as does: a GitOps ServiceAccount
that may write the spec and even the status, the operator's own ServiceAccount, and an admin in
the group bound to the techsapo-approver ClusterRole.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators
from tests.integration.techsapos import apply_techsapo, cli, condition, events, read, wait_ready

pytestmark = pytest.mark.usefixtures("installed", "approvers")

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = ("alice", "techsapo-admins")
OPERATOR_ACCOUNT = "system:serviceaccount:techsapo-system:techsapo-operator"
NEW_IMAGE = "ghcr.io/techsapo/techsapo:1.5.0"


@pytest.fixture
def gitops(cluster: local_cluster.Cluster, namespace: str) -> str:
    """A GitOps tool's ServiceAccount: it may write TechSapos, their status too, but approve nothing."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "gitops"},
        "rules": [
            {
                "apiGroups": ["techsapo.io"],
                "resources": ["techsapos", "techsapos/status"],
                "verbs": ["get", "list", "watch", "create", "update", "patch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "gitops"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gitops"},
        "subjects": [{"kind": "ServiceAccount", "name": "gitops", "namespace": namespace}],
    }
    cluster.kubectl("-n", namespace, "create", "serviceaccount", "gitops")
    for document in (role, binding):
        cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(document))
    return f"system:serviceaccount:{namespace}:gitops"


@pytest.fixture
def operator(
    cluster: local_cluster.Cluster, operator_kubeconfig: pathlib.Path, namespace: str, tmp_path: pathlib.Path
) -> Iterator[operators.OperatorProcess]:
    """The operator as its own ServiceAccount, so the admission policy judges its writes."""
    process = operators.OperatorProcess(
        operator_kubeconfig, [namespace], tmp_path / "operator.log", resync_seconds=2
    )
    yield process.start()
    process.stop()
    print(f"--- operator log ---\n{process.log.read_text()[-6000:]}")


def approve(
    cluster: local_cluster.Cluster,
    namespace: str,
    *extra: str,
    user: str = ADMIN[0],
    groups: tuple[str, ...] = ADMIN[1:],
) -> subprocess.CompletedProcess[str]:
    return cli(cluster, "approve", "techsapo", "-n", namespace, *extra, user=user, groups=groups)


def pending(api: client.ApiClient, namespace: str, *, generation: int) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        change = read(api, namespace, "techsapo").get("status", {}).get("pendingChange")
        return change if change and change["generation"] == generation else None

    change: dict[str, Any] = kube.wait_for(found, what=f"a pending change of generation {generation}")
    return change


def image(api: client.ApiClient, namespace: str) -> str:
    deployment = client.AppsV1Api(api).read_namespaced_deployment("techsapo-api", namespace)
    return str(deployment.spec.template.spec.containers[0].image)


def patch_status(
    cluster: local_cluster.Cluster,
    namespace: str,
    status: dict[str, Any],
    *,
    user: str,
    groups: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    impersonation = [f"--as={user}", *(f"--as-group={group}" for group in groups)]
    return cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "techsapo",
        "techsapo",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        *impersonation,
        check=False,
    )


def converge_production(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, gitops: str
) -> str:
    """A production instance created by GitOps and approved by the admin; returns the approved hash."""
    apply_techsapo(cluster, namespace, "production", first_creation_approved=False, as_user=gitops)
    first = pending(api, namespace, generation=1)
    assert client.AppsV1Api(api).list_namespaced_deployment(namespace).items == []  # nothing before approval
    result = approve(cluster, namespace, "--hash", first["hash"])
    assert result.returncode == 0, result.stderr
    wait_ready(api, namespace, "techsapo")
    return str(first["hash"])


def gitops_change(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    changes: dict[str, Any],
    *,
    generation: int,
) -> dict[str, Any]:
    """GitOps changes the production spec; returns the pending change the operator records."""
    apply_techsapo(cluster, namespace, "production", changes, first_creation_approved=False, as_user=gitops)
    return pending(api, namespace, generation=generation)


def test_a_production_change_waits_for_an_admin_and_rolls_out_once_approved(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    operator: operators.OperatorProcess,
) -> None:
    converge_production(cluster, api, namespace, gitops)
    old_image = image(api, namespace)
    change = gitops_change(cluster, api, namespace, gitops, {"image": NEW_IMAGE}, generation=2)
    assert any("containers[api-server].image" in line and NEW_IMAGE in line for line in change["summary"])
    body = read(api, namespace, "techsapo")
    assert condition(body, "ApprovalPending")["status"] == "True"
    assert (
        f"kubectl techsapo approve techsapo -n {namespace} --hash {change['hash']}"
        in condition(body, "ApprovalPending")["message"]
    )
    assert kube.wait_for(lambda: events(api, namespace, "ApprovalPending"), what="an ApprovalPending event")
    operators.wait_until_quiet(operator)
    assert image(api, namespace) == old_image  # the running children are exactly as approved

    refused = approve(cluster, namespace, user=gitops, groups=())
    assert refused.returncode == 1
    assert "needs the approve verb on techsapos/approval" in refused.stderr, refused.stderr
    refused = approve(cluster, namespace, user=OPERATOR_ACCOUNT, groups=("system:serviceaccounts",))
    assert refused.returncode == 1
    assert "needs the approve verb on techsapos/approval" in refused.stderr, refused.stderr

    approved = approve(cluster, namespace, "--hash", change["hash"])
    assert approved.returncode == 0, approved.stderr
    assert f"approved change {change['hash']}" in approved.stdout
    kube.wait_for(lambda: image(api, namespace) == NEW_IMAGE, what="the approved image to roll out")
    body = wait_ready(api, namespace, "techsapo")
    record = body["status"]["approved"]
    assert (record["hash"], record["generation"], record["approvedBy"]) == (change["hash"], 2, "alice")
    assert "pendingChange" not in body["status"]
    generation = (
        client.AppsV1Api(api).read_namespaced_deployment("techsapo-api", namespace).metadata.generation
    )
    operators.wait_until_quiet(operator)
    assert (
        client.AppsV1Api(api).read_namespaced_deployment("techsapo-api", namespace).metadata.generation
        == generation
    )  # applied once


def test_a_stale_hash_is_refused(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    operator: operators.OperatorProcess,
) -> None:
    converge_production(cluster, api, namespace, gitops)
    first = gitops_change(cluster, api, namespace, gitops, {"image": NEW_IMAGE}, generation=2)
    second = gitops_change(
        cluster, api, namespace, gitops, {"image": "ghcr.io/techsapo/techsapo:1.6.0"}, generation=3
    )
    result = approve(cluster, namespace, "--hash", first["hash"])
    assert result.returncode == 1
    assert f"hash {first['hash']} is stale: the pending change is now {second['hash']}" in result.stderr
    decision = {"hash": first["hash"], "user": "alice", "time": "2026-12-01T00:00:00Z", "reason": ""}
    refused = patch_status(
        cluster, namespace, {"approval": decision}, user="alice", groups=("techsapo-admins",)
    )
    assert refused.returncode != 0
    assert f"names no pending change; the pending change is {second['hash']}" in refused.stderr, (
        refused.stderr
    )
    assert image(api, namespace) != NEW_IMAGE


def test_an_approval_cannot_be_forged(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    operator: operators.OperatorProcess,
) -> None:
    converge_production(cluster, api, namespace, gitops)
    change = gitops_change(cluster, api, namespace, gitops, {"image": NEW_IMAGE}, generation=2)
    as_bob = {"hash": change["hash"], "user": "bob", "time": "2026-12-01T00:00:00Z", "reason": ""}
    refused = patch_status(
        cluster, namespace, {"approval": as_bob}, user="alice", groups=("techsapo-admins",)
    )
    assert refused.returncode != 0 and "must be the requesting user, alice" in refused.stderr, refused.stderr
    record = read(api, namespace, "techsapo")["status"]["approved"]
    forged = {**record, "hash": change["hash"], "spec": {**record["spec"], "image": NEW_IMAGE}}
    refused = patch_status(cluster, namespace, {"approved": forged}, user=gitops)
    assert refused.returncode != 0 and "recorded by the operator only" in refused.stderr, refused.stderr
    refused = patch_status(
        cluster, namespace, {"approved": forged}, user="alice", groups=("techsapo-admins",)
    )
    assert refused.returncode != 0 and "recorded by the operator only" in refused.stderr, refused.stderr
    operators.wait_until_quiet(operator)
    assert image(api, namespace) != NEW_IMAGE


def test_a_restart_between_change_and_approval_loses_nothing(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    operator: operators.OperatorProcess,
) -> None:
    converge_production(cluster, api, namespace, gitops)
    change = gitops_change(cluster, api, namespace, gitops, {"image": NEW_IMAGE}, generation=2)
    operator.stop(kill=True)
    operator.start()
    operators.wait_until_quiet(operator)
    assert read(api, namespace, "techsapo")["status"]["pendingChange"]["hash"] == change["hash"]
    assert image(api, namespace) != NEW_IMAGE
    operator.stop(kill=True)
    assert approve(cluster, namespace, "--hash", change["hash"]).returncode == 0  # approved while it is down
    operator.start()
    kube.wait_for(lambda: image(api, namespace) == NEW_IMAGE, what="the approved image after the restart")
    wait_ready(api, namespace, "techsapo")


def test_a_denied_change_keeps_the_approved_children_and_says_why(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    gitops: str,
    operator: operators.OperatorProcess,
) -> None:
    converge_production(cluster, api, namespace, gitops)
    change = gitops_change(cluster, api, namespace, gitops, {"image": NEW_IMAGE}, generation=2)
    denied = cli(
        cluster,
        "deny",
        "techsapo",
        "-n",
        namespace,
        "--hash",
        change["hash"],
        "--reason",
        "not during the freeze",
        user=ADMIN[0],
        groups=ADMIN[1:],
    )
    assert denied.returncode == 0, denied.stderr
    body = kube.wait_for(
        lambda: (b := read(api, namespace, "techsapo")) and condition(b, "Stalled")["status"] == "True" and b,
        what="the denial to show",
    )
    assert condition(body, "ApprovalPending")["reason"] == "Denied"
    assert "not during the freeze" in condition(body, "Stalled")["message"]
    assert image(api, namespace) != NEW_IMAGE


def test_first_creation_applies_at_once_only_when_the_setting_says_so(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "production")  # with approval.applyFirstCreation
    body = wait_ready(api, namespace, "techsapo")
    assert body["status"]["approved"]["approvedBy"] == "spec.approval.applyFirstCreation"
    apply_techsapo(cluster, namespace, "production", {"wallBounce.workers": 5})
    pending(api, namespace, generation=2)  # later changes still wait


def test_dev_and_staging_apply_at_once_and_staging_can_require_approval(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "dev")
    wait_ready(api, namespace, "techdev")
    apply_techsapo(cluster, namespace, "staging")
    wait_ready(api, namespace, "techsapo")
    apply_techsapo(cluster, namespace, "staging", {"approval.required": True, "wallBounce.workers": 3})
    change = pending(api, namespace, generation=2)
    assert any("wall-bounce" in line and "replicas: 2 -> 3" in line for line in change["summary"]), change
    assert (
        client.AppsV1Api(api).read_namespaced_deployment("techsapo-wall-bounce", namespace).spec.replicas == 2
    )
    assert "pendingChange" not in read(api, namespace, "techdev").get("status", {})
