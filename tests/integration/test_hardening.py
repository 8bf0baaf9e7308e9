"""Read-only by construction, proven on the real API server: the install applies cleanly, the
operator converges under its own least-privilege ServiceAccount, writable or privileged workloads
are refused where staging and production run, and trivy's compliance specs pass on the result."""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from controlplane import build
from controlplane import cluster as local_cluster
from techsapo_operator.rendering import namespaces
from tests.integration import operators
from tests.integration.techsapos import apply_techsapo, wait_ready

pytestmark = pytest.mark.usefixtures("installed")

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALLOWLIST = ROOT / "tests" / "data" / "operator-permissions.txt"
TRIVY = ROOT / ".venv-scanners" / "bin" / "trivy"


@pytest.fixture
def operator_as_itself(
    operator_kubeconfig: pathlib.Path, namespace: str, tmp_path: pathlib.Path
) -> Iterator[operators.OperatorProcess]:
    """The operator, authenticated as its own ServiceAccount and nothing more."""
    process = operators.OperatorProcess(operator_kubeconfig, [namespace], tmp_path / "operator.log")
    yield process.start()
    process.stop()
    print(f"--- operator log ---\n{process.log.read_text()[-6000:]}")


def effective_permissions(kubeconfig: pathlib.Path, namespace: str) -> set[str]:
    """What the API server itself says the identity may do in namespace, as 'group/resource: verb'."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        review = client.AuthorizationV1Api(api).create_self_subject_rules_review(
            client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=namespace))
        )
    finally:
        api.close()
    found = set()
    for rule in review.status.resource_rules:
        for group in rule.api_groups or [""]:
            for resource in rule.resources or []:
                for verb in rule.verbs:
                    found.add(f"{group or 'core'}/{resource}: {verb}")
    return found


def allowlist() -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in ALLOWLIST.read_text().splitlines())
    return {line for line in lines if line}


def test_install_passes_server_dry_run_without_warnings(cluster: local_cluster.Cluster) -> None:
    result = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-k", str(ROOT / "manifests" / "base"), check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_operator_permissions_are_exactly_the_allowlist(
    operator_kubeconfig: pathlib.Path, namespace: str
) -> None:
    found = effective_permissions(operator_kubeconfig, namespace)
    assert sorted(found - allowlist()) == [], "permissions beyond the allowlist"
    assert sorted(allowlist() - found) == [], "allowlisted permissions the operator does not have"
    forbidden = [
        p
        for p in found
        if "*" in p
        or "secrets" in p
        or "pods/exec" in p
        or p.endswith((": escalate", ": bind", ": impersonate"))
    ]
    assert forbidden == []


def test_operator_converges_under_its_own_service_account(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    operator_as_itself: operators.OperatorProcess,
) -> None:
    apply_techsapo(cluster, namespace, "production")
    wait_ready(api, namespace, "techsapo")
    labels = client.CoreV1Api(api).read_namespace(namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == namespaces.POD_SECURITY_VERSION
    assert labels[namespaces.HARDENED_LABEL] == "true"
    assert "Forbidden" not in operator_as_itself.log.read_text()


def hardened(cluster: local_cluster.Cluster, namespace: str) -> None:
    labels = [f"{key}={value}" for key, value in namespaces.HARDENED_LABELS.items()]
    cluster.kubectl("label", "namespace", namespace, *labels, "--overwrite")


def workload(name: str, security_context: dict[str, object] | None) -> str:
    container: dict[str, object] = {"name": "main", "image": "registry.k8s.io/pause:3.10"}
    if security_context is not None:
        container["securityContext"] = security_context
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
            },
        }
    )


RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.mark.parametrize(
    ("security_context", "message"),
    [
        pytest.param(
            {**RESTRICTED, "readOnlyRootFilesystem": False},
            "would have a writable root file system",
            id="writable-root",
        ),
        pytest.param(RESTRICTED, "would have a writable root file system", id="root-not-declared-read-only"),
        pytest.param(None, "have no securityContext", id="no-security-context"),
    ],
)
def test_writable_workload_is_refused_where_staging_or_production_runs(
    cluster: local_cluster.Cluster, namespace: str, security_context: dict[str, object] | None, message: str
) -> None:
    hardened(cluster, namespace)
    result = cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", stdin=workload("writable", security_context), check=False
    )
    assert result.returncode != 0
    assert "techsapo-readonly-workloads" in result.stderr and message in result.stderr, result.stderr
    read_only = cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "-f",
        "-",
        stdin=workload("read-only", {**RESTRICTED, "readOnlyRootFilesystem": True}),
    )
    assert read_only.returncode == 0


def test_writable_workload_is_allowed_where_only_dev_runs(
    cluster: local_cluster.Cluster, namespace: str
) -> None:
    result = cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "-f",
        "-",
        stdin=workload("dev-writable", {**RESTRICTED, "readOnlyRootFilesystem": False}),
    )
    assert result.returncode == 0, result.stderr


def test_privileged_pod_is_refused_in_a_namespace_the_operator_manages(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    operator_as_itself: operators.OperatorProcess,
) -> None:
    apply_techsapo(cluster, namespace, "staging")
    wait_ready(api, namespace, "techsapo")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.k8s.io/pause:3.10",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    result = cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(pod), check=False)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:v1.37"' in result.stderr, result.stderr


@pytest.mark.parametrize("compliance", ["k8s-pss-restricted-0.1", "k8s-nsa-1.0"])
def test_trivy_compliance_passes_on_converged_instances(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespace: str,
    operator_as_itself: operators.OperatorProcess,
    compliance: str,
    tmp_path: pathlib.Path,
) -> None:
    assert TRIVY.is_file(), "trivy is not installed; run `make scanners`"
    apply_techsapo(cluster, namespace, "production")
    wait_ready(api, namespace, "techsapo")
    report = scan_compliance(cluster, namespace, compliance, tmp_path)
    failing = {
        control["ID"]: [r.get("Target") for r in control.get("Results") or [] if r.get("Misconfigurations")]
        for control in report["Results"]
    }
    assert {control: targets for control, targets in failing.items() if targets} == {}
    scanned = {r.get("Target") for control in report["Results"] for r in control.get("Results") or []}
    assert scanned or report["Results"], "trivy scanned nothing"


def test_trivy_compliance_catches_a_privileged_workload(
    cluster: local_cluster.Cluster, namespace: str, tmp_path: pathlib.Path
) -> None:
    assert TRIVY.is_file(), "trivy is not installed; run `make scanners`"
    cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=workload("bad", {"privileged": True}))
    report = scan_compliance(cluster, namespace, "k8s-pss-restricted-0.1", tmp_path)
    failing = [
        control["ID"]
        for control in report["Results"]
        if any(r.get("Misconfigurations") for r in control.get("Results") or [])
    ]
    assert failing, "the compliance scan found nothing wrong with a privileged Deployment"


def scan_compliance(
    cluster: local_cluster.Cluster, namespace: str, compliance: str, folder: pathlib.Path
) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(TRIVY),
            "k8s",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--include-namespaces",
            namespace,
            "--disable-node-collector",
            "--skip-images",
            "--scanners",
            "misconfig",
            "--skip-check-update",
            "--skip-db-update",
            "--offline-scan",
            "--disable-telemetry",
            "--compliance",
            compliance,
            "--report",
            "all",
            "--format",
            "json",
            "--quiet",
            "--cache-dir",
            str(folder / "cache"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={"PATH": str(build.cache_dir()), "HOME": str(folder)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report
