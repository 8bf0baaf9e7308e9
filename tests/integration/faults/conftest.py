"""Fault tests: the operator killed, the API server and etcd restarted, server errors, throttling,
competing writers, two replicas. Each is bounded in time and undoes its fault by itself."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def namespaces(api: client.ApiClient) -> Iterator[Callable[[str], str]]:
    """Make fresh namespaces (named after a purpose); all are deleted after the test."""
    core = client.CoreV1Api(api)
    made: list[str] = []

    def make(purpose: str) -> str:
        name = f"f-{purpose}-{uuid.uuid4().hex[:5]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        kube.wait_for(
            lambda: kube.exists(lambda: core.read_namespaced_service_account("default", name)),
            what=f"the default ServiceAccount in {name}",
        )
        made.append(name)
        return name

    yield make
    for name in made:
        core.delete_namespace(name)


OperatorFactory = Callable[..., operators.OperatorProcess]


@pytest.fixture
def start_operator(
    cluster: local_cluster.Cluster, installed: None, tmp_path: pathlib.Path
) -> Iterator[OperatorFactory]:
    """Start operator processes, with the install (CRD, RBAC, policies) in place; admin credentials
    unless a kubeconfig is given. All are stopped after the test and the end of each log is printed."""
    started: list[operators.OperatorProcess] = []

    def start(
        namespaces: list[str],
        *,
        kubeconfig: pathlib.Path | None = None,
        resync_seconds: int = 300,
        extra_arguments: tuple[str, ...] = (),
    ) -> operators.OperatorProcess:
        process = operators.OperatorProcess(
            kubeconfig or cluster.kubeconfig,
            namespaces,
            tmp_path / f"operator-{len(started)}.log",
            resync_seconds=resync_seconds,
            extra_arguments=extra_arguments,
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
        print(f"--- {process.log} ---\n{process.log.read_text()[-4000:]}")
