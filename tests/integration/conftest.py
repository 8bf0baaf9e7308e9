"""Fixtures on the real local control plane: the cluster (started or reused), a fresh namespace per
test, the installed CRD, and an API client."""

from __future__ import annotations

import os
import pathlib
import re
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config, dynamic

from controlplane import cluster as local_cluster
from tests.integration import kube

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config) -> Iterator[local_cluster.Cluster]:
    """The local control plane; started for this session unless one is already running."""
    control_plane = local_cluster.Cluster.default()
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    started = False
    if not (control_plane.running() and control_plane.ready()):
        with capture.global_and_fixture_disabled():  # a cold start shows its progress
            control_plane.up()
        started = True
    yield control_plane
    if started and not os.environ.get("TECHSAPO_KEEP_CLUSTER"):
        with capture.global_and_fixture_disabled():
            control_plane.down()


@pytest.fixture(scope="session")
def api(cluster: local_cluster.Cluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def dyn(api: client.ApiClient) -> dynamic.DynamicClient:
    return dynamic.DynamicClient(api)


@pytest.fixture(scope="session")
def techsapo_crd(cluster: local_cluster.Cluster) -> str:
    """The TechSapo CRD from crds/, applied and Established."""
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds" / "techsapo.io_techsapos.yaml")
    )
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/techsapos.techsapo.io")
    return "techsapos.techsapo.io"


@pytest.fixture(scope="session")
def installed(cluster: local_cluster.Cluster, techsapo_crd: str) -> None:
    """The operator's install from manifests/base (CRD, RBAC, Deployment, admission policy)."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "manifests" / "base"))
    kube.wait_for(
        lambda: (
            cluster.kubectl(
                "get", "serviceaccount", "techsapo-operator", "-n", "techsapo-system", check=False
            ).returncode
            == 0
        ),
        what="the operator's ServiceAccount",
    )


@pytest.fixture(scope="session")
def operator_kubeconfig(
    cluster: local_cluster.Cluster, installed: None, tmp_path_factory: pytest.TempPathFactory
) -> pathlib.Path:
    """A kubeconfig that authenticates as the operator's own ServiceAccount, with a bound token."""
    folder = tmp_path_factory.mktemp("operator")
    return cluster.service_account_kubeconfig("techsapo-system", "techsapo-operator", folder / "kubeconfig")


@pytest.fixture(scope="session")
def approvers(cluster: local_cluster.Cluster, installed: None) -> None:
    cluster.kubectl(
        "apply", "--server-side", "-f", str(ROOT / "manifests" / "examples" / "approver-binding.yaml")
    )


def _namespace_name(request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"t-{base}-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted after it (without waiting for the deletion)."""
    name = _namespace_name(request)
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    kube.wait_for(
        lambda: kube.exists(lambda: core.read_namespaced_service_account("default", name)),
        what=f"the default ServiceAccount in {name}",
        timeout=60,
    )
    yield name
    core.delete_namespace(name)
