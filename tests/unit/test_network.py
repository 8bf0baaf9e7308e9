"""Who may reach whom, on which port, under the rendered NetworkPolicies: every pair, exactly."""

from __future__ import annotations

from typing import Any

import pytest

from techsapo_operator import rendering
from techsapo_operator.rendering import meta
from tests import examples, netpol

DNS = [("UDP", 53), ("TCP", 53)]


def instance_pods(children: list[dict[str, Any]]) -> list[netpol.Endpoint]:
    """One endpoint per workload (two for a Redis Cluster, so peer traffic shows), with its ports."""
    pods = []
    for child in children:
        if child["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        template = child["spec"]["template"]
        ports = tuple(
            ("TCP", p["containerPort"]) for c in template["spec"]["containers"] for p in c.get("ports", [])
        )
        component = template["metadata"]["labels"][meta.COMPONENT_LABEL]
        copies = 2 if child["kind"] == "StatefulSet" and child["spec"]["replicas"] > 1 else 1
        for index in range(copies):
            name = component if copies == 1 else f"{component}-{index}"
            pods.append(
                netpol.Endpoint(
                    name, child["metadata"]["namespace"], template["metadata"]["labels"], ports=ports
                )
            )
    return pods


def outside(namespace: str, *, mcp_namespace: str, gateway_namespace: str) -> list[netpol.Endpoint]:
    return [
        netpol.Endpoint("dns", "kube-system", {"k8s-app": "kube-dns"}, ports=tuple(DNS)),
        netpol.Endpoint("client", "ingress", {"app": "ingress"}, ports=(("TCP", 443),)),
        netpol.Endpoint("intruder", namespace, {"app": "intruder"}, ports=(("TCP", 80),)),
        netpol.Endpoint(
            "cipher", mcp_namespace, {"app.kubernetes.io/name": "cipher"}, ports=(("TCP", 3000),)
        ),
        netpol.Endpoint(
            "serena", mcp_namespace, {"app.kubernetes.io/name": "serena"}, ports=(("TCP", 3001),)
        ),
        netpol.Endpoint(
            "llm-gateway",
            gateway_namespace,
            {"app.kubernetes.io/name": "llm-gateway"},
            ports=(("TCP", 8443),),
        ),
    ]


def reachability(
    environment: str, *, mcp_namespace: str, gateway_namespace: str
) -> set[tuple[str, str, str, int]]:
    children = rendering.render(examples.techsapo(environment))
    policies = [c for c in children if c["kind"] == "NetworkPolicy"]
    pods = instance_pods(children)
    namespace = children[0]["metadata"]["namespace"]
    everyone = pods + outside(namespace, mcp_namespace=mcp_namespace, gateway_namespace=gateway_namespace)
    ours = {pod.name for pod in pods}
    # Traffic between outside endpoints is not the instance's business.
    return {t for t in netpol.matrix(policies, everyone) if t[0] in ours or t[1] in ours}


def to(source: str, destination: str, *ports: tuple[str, int]) -> set[tuple[str, str, str, int]]:
    return {(source, destination, protocol, port) for protocol, port in ports}


def public_api(*sources: str) -> set[tuple[str, str, str, int]]:
    """The API server is the instance's front door: anyone its own policies do not hold back may call it."""
    return {(source, "api-server", "TCP", 8080) for source in sources}


def test_production_reachability_is_exactly_the_intended_one() -> None:
    expected = public_api("client", "intruder", "dns", "cipher", "serena", "llm-gateway")
    for app in ("api-server", "wall-bounce"):
        expected |= to(app, "mcp-proxy", ("TCP", 8090))
        expected |= to(app, "redis-0", ("TCP", 6379)) | to(app, "redis-1", ("TCP", 6379))
        expected |= to(app, "llm-gateway", ("TCP", 8443)) | to(app, "dns", *DNS)
    expected |= to("mcp-proxy", "cipher", ("TCP", 3000)) | to("mcp-proxy", "serena", ("TCP", 3001))
    expected |= to("mcp-proxy", "dns", *DNS)
    for one, other in (("redis-0", "redis-1"), ("redis-1", "redis-0")):
        expected |= to(one, other, ("TCP", 6379), ("TCP", 16379)) | to(one, "dns", *DNS)
    expected |= to("redis-bootstrap", "redis-0", ("TCP", 6379)) | to(
        "redis-bootstrap", "redis-1", ("TCP", 6379)
    )
    expected |= to("redis-bootstrap", "dns", *DNS)
    found = reachability("production", mcp_namespace="techsapo-mcp", gateway_namespace="techsapo-gateway")
    assert sorted(found - expected) == [], "allowed but not intended"
    assert sorted(expected - found) == [], "intended but not allowed"


def test_staging_proxy_reaches_only_its_declared_upstream() -> None:
    found = reachability("staging", mcp_namespace="techsapo-mcp", gateway_namespace="techsapo-gateway")
    from_proxy = {t for t in found if t[0] == "mcp-proxy"}
    assert from_proxy == to("mcp-proxy", "cipher", ("TCP", 3000)) | to("mcp-proxy", "dns", *DNS)
    assert not {t for t in found if t[1] == "mcp-proxy" and t[0] not in ("api-server", "wall-bounce")}


def test_dev_reaches_its_local_mcp_servers_from_the_app_pods() -> None:
    expected = public_api("client", "intruder", "dns", "cipher", "serena", "llm-gateway")
    for app in ("api-server", "wall-bounce"):
        expected |= to(app, "cipher", ("TCP", 3000)) | to(app, "serena", ("TCP", 3001))
        expected |= (
            to(app, "redis", ("TCP", 6379)) | to(app, "llm-gateway", ("TCP", 8443)) | to(app, "dns", *DNS)
        )
    found = reachability("dev", mcp_namespace="techdev", gateway_namespace="techdev")
    assert sorted(found - expected) == [], "allowed but not intended"
    assert sorted(expected - found) == [], "intended but not allowed"


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_no_one_outside_the_instance_reaches_redis_or_the_workers(environment: str) -> None:
    found = reachability(environment, mcp_namespace="techsapo-mcp", gateway_namespace="techsapo-gateway")
    for source, destination, _, _ in found:
        if destination.startswith("redis") or destination == "wall-bounce":
            assert source in {"api-server", "wall-bounce", "redis-0", "redis-1", "redis-bootstrap"}, (
                source,
                destination,
            )
