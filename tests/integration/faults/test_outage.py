"""The API server and etcd stopped and started again on the same ports, and watch streams that go
silent without an error: the same operator process reconnects and converges, with no restart."""

from __future__ import annotations

import pathlib
import time
from typing import Any

import pytest
import yaml
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube, operators
from tests.integration.faults import fleet
from tests.integration.faults.blackhole import SilencingForwarder
from tests.integration.faults.conftest import OperatorFactory
from tests.integration.faults.fleet import Member

DOWN_SECONDS = 8
RECOVER_SECONDS = 60
"""Bound: a change made once the API answers again is in the children this long after."""
WATCH_TIMEOUT_SECONDS = 10
SILENT_WATCH_BOUND_SECONDS = WATCH_TIMEOUT_SECONDS + 5 + 30 + 20
"""A change made while every open connection is silent reaches the children within: the watch's
client timeout (10 s + 5 s of grace), a request stuck on a silent pooled connection (the 30 s request
timeout), and a retry (20 s)."""


def converged_fleet(
    cluster: local_cluster.Cluster, api: client.ApiClient, space: str, operator: operators.OperatorProcess
) -> list[Member]:
    members = [Member(space, f"dev-{n}") for n in range(3)]
    fleet.apply_all(cluster, (fleet.document(m, "dev") for m in members))
    fleet.wait_settled(api, members, timeout=120)
    operators.wait_until_quiet(operator)
    return members


def change_and_wait(
    cluster: local_cluster.Cluster, api: client.ApiClient, members: list[Member], *, timeout: float
) -> float:
    """Change every member and delete one child by hand; returns seconds until all of it is reconciled."""
    started = time.monotonic()
    fleet.apply_all(cluster, (fleet.document(m, "dev", {"wallBounce.workers": 3}) for m in members))
    client.CoreV1Api(api).delete_namespaced_config_map(
        f"{members[0].name}-mcp-security-config", members[0].namespace
    )
    bodies = fleet.wait_settled(api, members, timeout=timeout)
    assert all(b["status"]["observedGeneration"] == 2 for b in bodies.values())
    fleet.wait_children_exact(cluster, bodies, [members[0].namespace], timeout=timeout)
    return time.monotonic() - started


@pytest.fixture
def restore_control_plane(cluster: local_cluster.Cluster) -> Any:
    """Whatever a test stopped runs again afterwards, so the next test finds a whole cluster."""
    yield
    for component in local_cluster.COMPONENTS:
        if component not in cluster.running():
            cluster.start_component(component)
    kube.wait_for(cluster.ready, what="the API server to be ready again", timeout=120)


@pytest.mark.usefixtures("restore_control_plane")
@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_the_operator_reconnects_after_a_restart_and_converges_without_restarting(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
    component: str,
) -> None:
    space = namespaces("restart")
    operator = start_operator([space])
    members = converged_fleet(cluster, api, space, operator)
    pid = operator.process.pid

    cluster.restart_component(component, down_seconds=DOWN_SECONDS)
    took = change_and_wait(cluster, api, members, timeout=RECOVER_SECONDS)
    print(f"{component} down {DOWN_SECONDS}s: converged {took:.1f}s after it was back")
    assert operator.alive() and operator.process.pid == pid  # the same process, never restarted
    assert operator.healthy()


def test_a_silent_watch_is_detected_and_re_established_within_its_bound(
    cluster: local_cluster.Cluster,
    api: client.ApiClient,
    namespaces: Any,
    start_operator: OperatorFactory,
    tmp_path: pathlib.Path,
) -> None:
    forwarder = SilencingForwarder(cluster.ports.apiserver).start()
    try:
        kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
        kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{forwarder.port}"
        through_forwarder = tmp_path / "kubeconfig"
        through_forwarder.write_text(yaml.safe_dump(kubeconfig))
        space = namespaces("silent")
        operator = start_operator(
            [space],
            kubeconfig=through_forwarder,
            extra_arguments=(f"--watch-timeout-seconds={WATCH_TIMEOUT_SECONDS}",),
        )
        members = converged_fleet(cluster, api, space, operator)

        forwarder.silence()
        took = change_and_wait(cluster, api, members, timeout=SILENT_WATCH_BOUND_SECONDS)
        print(f"every connection silent: converged after {took:.1f}s (bound {SILENT_WATCH_BOUND_SECONDS}s)")
        assert operator.healthy()
    finally:
        forwarder.stop()
