"""NetworkPolicies: deny everything for the instance's pods, then allow exactly the paths the brief draws.

- API server: accepts clients on its port; reaches the MCP proxy, Redis, the LLM gateway and DNS.
- Wall-Bounce workers: accept nothing; reach the MCP proxy, Redis, the LLM gateway and DNS.
- MCP proxy (isolated): accepts only the instance's API server and workers; reaches only the
  declared upstream MCP servers and DNS. In sidecar mode (dev) the app pods reach the upstreams.
- Redis: accepts only the instance's API server, workers and (in a cluster) its own peers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from techsapo_operator import models
from techsapo_operator.rendering import configmaps, jobs, meta
from techsapo_operator.vocabulary import McpProxyMode, RedisMode

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def url_port(url: str) -> int:
    """The port a URL points at, its scheme's default when it names none."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _peer(peer: models.NetworkPeer) -> dict[str, Any]:
    if peer.cidr is not None:
        return {"ipBlock": {"cidr": peer.cidr}}
    rendered: dict[str, Any] = {}
    if peer.namespace_labels is not None:
        rendered["namespaceSelector"] = {"matchLabels": dict(peer.namespace_labels)}
    if peer.pod_labels is not None:
        rendered["podSelector"] = {"matchLabels": dict(peer.pod_labels)}
    return rendered


def _peers_or_named_pods(peers: list[models.NetworkPeer], default_name: str) -> list[dict[str, Any]]:
    if peers:
        return [_peer(peer) for peer in peers]
    return [{"podSelector": {"matchLabels": {meta.NAME_LABEL: default_name}}}]


def _egress(to: list[dict[str, Any]], ports: list[int]) -> dict[str, Any]:
    return {"to": to, "ports": [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]}


def _pods(instance: meta.Instance, component: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": instance.selector(component)}}


def _upstream_egress(instance: meta.Instance) -> list[dict[str, Any]]:
    return [
        _egress(_peers_or_named_pods(upstream.network_peers, upstream.name), [url_port(upstream.url)])
        for upstream in instance.settings.mcp_upstreams
    ]


def _app_egress(instance: meta.Instance) -> list[dict[str, Any]]:
    settings = instance.settings
    gateway = settings.llm_gateway
    rules = [
        {"to": [DNS_PEER], "ports": DNS_PORTS},
        _egress([_pods(instance, meta.REDIS)], [configmaps.REDIS_PORT]),
        _egress(_peers_or_named_pods(gateway.network_peers, "llm-gateway"), [url_port(gateway.url)]),
    ]
    if settings.mcp_mode is McpProxyMode.ISOLATED:
        rules.append(_egress([_pods(instance, meta.MCP_PROXY)], [settings.mcp_port]))
    else:
        rules += _upstream_egress(instance)
    return rules


def _policy(
    instance: meta.Instance,
    *,
    suffix: str,
    component: str,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": instance.metadata(instance.child(suffix), meta.NETWORK),
        "spec": {
            "podSelector": {"matchLabels": instance.selector(component)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def default_deny(instance: meta.Instance) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": instance.metadata(instance.child("default-deny"), meta.NETWORK),
        "spec": {
            "podSelector": {"matchLabels": instance.instance_selector()},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    settings = instance.settings
    app_clients = [_pods(instance, meta.API_SERVER), _pods(instance, meta.WALL_BOUNCE)]
    policies = [
        default_deny(instance),
        _policy(
            instance,
            suffix="api",
            component=meta.API_SERVER,
            ingress=[{"ports": [{"protocol": "TCP", "port": settings.api_port}]}],
            egress=_app_egress(instance),
        ),
        _policy(
            instance,
            suffix="wall-bounce",
            component=meta.WALL_BOUNCE,
            ingress=[],
            egress=_app_egress(instance),
        ),
    ]
    if settings.mcp_mode is McpProxyMode.ISOLATED:
        policies.append(
            _policy(
                instance,
                suffix="mcp-proxy",
                component=meta.MCP_PROXY,
                ingress=[{"from": app_clients, "ports": [{"protocol": "TCP", "port": settings.mcp_port}]}],
                egress=[{"to": [DNS_PEER], "ports": DNS_PORTS}, *_upstream_egress(instance)],
            )
        )
    redis_ingress = [{"from": app_clients, "ports": [{"protocol": "TCP", "port": configmaps.REDIS_PORT}]}]
    redis_egress: list[dict[str, Any]] = []
    if settings.redis.mode is RedisMode.CLUSTER:
        peer_ports = [
            {"protocol": "TCP", "port": p} for p in (configmaps.REDIS_PORT, configmaps.REDIS_BUS_PORT)
        ]
        redis_ingress.append({"from": [_pods(instance, meta.REDIS)], "ports": peer_ports})
        redis_ingress.append(
            {
                "from": [_pods(instance, jobs.BOOTSTRAP_COMPONENT)],
                "ports": [{"protocol": "TCP", "port": configmaps.REDIS_PORT}],
            }
        )
        redis_egress = [
            {"to": [DNS_PEER], "ports": DNS_PORTS},
            {"to": [_pods(instance, meta.REDIS)], "ports": peer_ports},
        ]
        # The bootstrap Job talks to each node's client port, and nothing else.
        policies.append(
            _policy(
                instance,
                suffix=jobs.BOOTSTRAP_SUFFIX,
                component=jobs.BOOTSTRAP_COMPONENT,
                ingress=[],
                egress=[
                    {"to": [DNS_PEER], "ports": DNS_PORTS},
                    _egress([_pods(instance, meta.REDIS)], [configmaps.REDIS_PORT]),
                ],
            )
        )
    policies.append(
        _policy(instance, suffix="redis", component=meta.REDIS, ingress=redis_ingress, egress=redis_egress)
    )
    return policies
