"""The install a platform engineer and a GitOps tool apply: each kustomize overlay applies cleanly,
and the operator deployed by the namespaced one converges an instance with only its namespace's
rights."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import operators
from tests.integration.techsapos import apply_techsapo, wait_ready

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "manifests" / "overlays"


@pytest.mark.parametrize("overlay", ["cluster-wide", "namespaced"])
def test_overlay_applies_without_warnings(cluster: local_cluster.Cluster, overlay: str) -> None:
    for dry_run in ([], ["--dry-run=server"]):  # the second pass shows the applied state is stable
        result = cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            *dry_run,
            "-k",
            str(OVERLAYS / overlay),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr


@pytest.fixture
def namespaced_only(cluster: local_cluster.Cluster, installed: None) -> Iterator[None]:
    """The namespaced overlay installed, and the base's cluster-wide binding removed meanwhile."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(OVERLAYS / "namespaced"))
    cluster.kubectl("delete", "clusterrolebinding", "techsapo-operator", "--ignore-not-found")
    yield
    cluster.kubectl("-n", "techsapo", "delete", "techsapos", "--all", "--wait=true", "--timeout=60s")
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "manifests" / "base"))


@pytest.mark.usefixtures("namespaced_only")
def test_the_namespaced_install_converges_an_instance_in_its_namespace(
    cluster: local_cluster.Cluster, api: client.ApiClient, tmp_path: pathlib.Path
) -> None:
    kubeconfig = cluster.service_account_kubeconfig("techsapo-system", "techsapo-operator", tmp_path / "kc")
    who = "--as=system:serviceaccount:techsapo-system:techsapo-operator"
    assert (
        cluster.kubectl("auth", "can-i", "list", "techsapos", "-A", who, check=False).stdout.strip() == "no"
    )
    assert (
        cluster.kubectl("auth", "can-i", "list", "techsapos", "-n", "techsapo", who).stdout.strip() == "yes"
    )
    # As the overlay's Deployment runs it: the operator image's command with the overlay's args.
    process = operators.OperatorProcess(kubeconfig, ["techsapo"], tmp_path / "operator.log")
    process.start()
    try:
        apply_techsapo(cluster, "techsapo", "staging")
        wait_ready(api, "techsapo", "techsapo")
        assert "Forbidden" not in process.log.read_text()
    finally:
        process.stop()
