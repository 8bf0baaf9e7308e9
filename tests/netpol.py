"""An evaluator of Kubernetes NetworkPolicy semantics, for checking rendered policies without a CNI.

A connection from one endpoint to another on a port is allowed when the source's egress and the
destination's ingress both allow it: a pod no policy selects (for that direction) is open; a
selected pod is open only to what one of the selecting policies' rules names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.1"
    ports: tuple[tuple[str, int], ...] = ()
    """(protocol, port) the endpoint listens on."""


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def _namespace_labels(namespace: str, extra: dict[str, dict[str, str]]) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace, **extra.get(namespace, {})}


def _peer_matches(
    peer: dict[str, Any],
    policy_namespace: str,
    endpoint: Endpoint,
    namespace_labels: dict[str, dict[str, str]],
) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(endpoint.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(c) for c in block.get("except", []))
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], _namespace_labels(endpoint.namespace, namespace_labels)):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return _matches(peer.get("podSelector", {}), endpoint.labels)


def _port_matches(ports: list[dict[str, Any]] | None, protocol: str, port: int) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports)


def _direction_allows(
    policies: list[dict[str, Any]],
    endpoint: Endpoint,
    peer: Endpoint,
    protocol: str,
    port: int,
    *,
    direction: str,
    namespace_labels: dict[str, dict[str, str]],
) -> bool:
    policy_type, rules_key, peers_key = (
        ("Egress", "egress", "to") if direction == "egress" else ("Ingress", "ingress", "from")
    )
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == endpoint.namespace
        and _matches(p["spec"]["podSelector"], endpoint.labels)
        and policy_type in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(rules_key, []) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                _peer_matches(candidate, policy["metadata"]["namespace"], peer, namespace_labels)
                for candidate in peers
            )
            if peer_ok and _port_matches(rule.get("ports"), protocol, port):
                return True
    return False


def allowed(
    policies: list[dict[str, Any]],
    source: Endpoint,
    destination: Endpoint,
    protocol: str,
    port: int,
    *,
    namespace_labels: dict[str, dict[str, str]] | None = None,
) -> bool:
    labels = namespace_labels or {}
    return _direction_allows(
        policies, source, destination, protocol, port, direction="egress", namespace_labels=labels
    ) and _direction_allows(
        policies, destination, source, protocol, port, direction="ingress", namespace_labels=labels
    )


def matrix(policies: list[dict[str, Any]], endpoints: list[Endpoint]) -> set[tuple[str, str, str, int]]:
    """Every (source, destination, protocol, port) allowed among the endpoints, on their listening ports."""
    return {
        (source.name, destination.name, protocol, port)
        for source in endpoints
        for destination in endpoints
        if source is not destination
        for protocol, port in destination.ports
        if allowed(policies, source, destination, protocol, port)
    }
