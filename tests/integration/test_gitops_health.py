"""The shipped Argo CD health check, run by a real Lua on status objects the operator wrote on the
test cluster, for every health Argo CD can show."""

from __future__ import annotations

import pathlib
from typing import Any

import lupa
import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators
from tests.integration.techsapos import apply_techsapo, cli, condition, read, wait_ready

pytestmark = pytest.mark.usefixtures("installed", "approvers")

HEALTH = pathlib.Path(__file__).resolve().parents[2] / "manifests" / "gitops" / "argocd-health.lua"


def health(body: dict[str, Any]) -> dict[str, str]:
    """What Argo CD would show: the script run as argocd runs it, with the object as `obj`."""
    lua = lupa.LuaRuntime()
    check = lua.eval(f"function(obj)\n{HEALTH.read_text()}\nend")
    result = check(lua.table_from(body, recursive=True))
    return {"status": str(result["status"]), "message": str(result["message"])}


@pytest.fixture
def operator(cluster: local_cluster.Cluster, namespace: str, tmp_path: pathlib.Path) -> Any:
    process = operators.OperatorProcess(
        cluster.kubeconfig, [namespace], tmp_path / "operator.log", resync_seconds=2
    )
    yield process.start()
    process.stop()


def test_a_ready_instance_is_healthy(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "staging")
    assert health(wait_ready(api, namespace, "techsapo")) == {
        "status": "Healthy",
        "message": "every component is ready at this generation",
    }


def test_a_lagging_observed_generation_is_progressing(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "staging")
    wait_ready(api, namespace, "techsapo")
    operator.stop()
    apply_techsapo(cluster, namespace, "staging", {"wallBounce.workers": 3})
    body = read(api, namespace, "techsapo")
    assert body["status"]["observedGeneration"] < body["metadata"]["generation"]
    assert health(body) == {
        "status": "Progressing",
        "message": "waiting for the operator to observe generation 2",
    }


def test_a_pending_approval_and_a_pause_are_suspended(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "production", first_creation_approved=False)
    body = kube.wait_for(
        lambda: (b := read(api, namespace, "techsapo")).get("status", {}).get("pendingChange") and b,
        what="a pending change",
    )
    verdict = health(body)
    assert verdict["status"] == "Suspended" and "waits for an admin" in verdict["message"]
    cluster.kubectl("-n", namespace, "annotate", "techsapo", "techsapo", "techsapo.io/reconcile=disabled")
    paused = kube.wait_for(
        lambda: (b := read(api, namespace, "techsapo")) and condition(b, "ReconciliationPaused") and b,
        what="the pause to show",
    )
    assert health(paused)["status"] == "Suspended"
    assert "paused" in health(paused)["message"]


def test_a_denied_change_is_degraded(
    cluster: local_cluster.Cluster, api: client.ApiClient, namespace: str, operator: operators.OperatorProcess
) -> None:
    apply_techsapo(cluster, namespace, "production", first_creation_approved=False)
    kube.wait_for(
        lambda: read(api, namespace, "techsapo").get("status", {}).get("pendingChange"),
        what="a pending change",
    )
    result = cli(
        cluster,
        "deny",
        "techsapo",
        "-n",
        namespace,
        "--reason",
        "not before the audit",
        user="alice",
        groups=("techsapo-admins",),
    )
    assert result.returncode == 0, result.stderr
    body = kube.wait_for(
        lambda: (b := read(api, namespace, "techsapo")) and condition(b, "Stalled")["status"] == "True" and b,
        what="the denial to show",
    )
    verdict = health(body)
    assert verdict["status"] == "Degraded" and "not before the audit" in verdict["message"]
