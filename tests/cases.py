"""Bad and good TechSapo variants, checked by the operator's own validation (unit tests) and by
the real API server through the generated CRD (integration tests): both must agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Bad:
    id: str
    environment: str
    changes: dict[str, Any]
    field: str
    """The path both the operator and the API server name."""
    message: str
    """What the operator says."""
    server_message: str = ""
    """What the API server says, where its wording differs (built-in schema checks)."""

    @property
    def expected_server_message(self) -> str:
        return self.server_message or self.message


PRODUCTION_ONLY_HARDENED = "cannot be DEBUG in production"
SELF_MODIFICATION = "the system must never rewrite itself"

BAD = [
    Bad(
        "production-debug-logs",
        "production",
        {"logging.level": "DEBUG"},
        "spec.logging.level",
        PRODUCTION_ONLY_HARDENED,
    ),
    Bad(
        "staging-writable-root",
        "staging",
        {"security.readOnlyRootFilesystem": False},
        "spec.security.readOnlyRootFilesystem",
        "cannot be false in staging or production",
    ),
    Bad(
        "production-writable-root",
        "production",
        {"security.readOnlyRootFilesystem": False},
        "spec.security.readOnlyRootFilesystem",
        "cannot be false in staging or production",
    ),
    Bad(
        "production-dynamic-config",
        "production",
        {"security.allowDynamicConfig": True},
        "spec.security.allowDynamicConfig",
        SELF_MODIFICATION,
    ),
    Bad(
        "staging-code-modification",
        "staging",
        {"security.allowCodeModification": True},
        "spec.security.allowCodeModification",
        SELF_MODIFICATION,
    ),
    Bad(
        "staging-sidecar-mcp",
        "staging",
        {"mcpProxy.mode": "sidecar"},
        "spec.mcpProxy.mode",
        "only through the isolated proxy",
    ),
    Bad(
        "production-standalone-redis",
        "production",
        {"redis.mode": "standalone"},
        "spec.redis.mode",
        "production runs a Redis Cluster",
    ),
    Bad(
        "production-allows-write",
        "production",
        {
            "mcpProxy.policy.allowedOperations": ["read", "write"],
            "mcpProxy.policy.forbiddenOperations": ["execute", "modify"],
        },
        "spec.mcpProxy.policy.allowedOperations",
        "never allow write, execute or modify",
    ),
    Bad(
        "allowed-and-forbidden",
        "dev",
        {"mcpProxy.policy": {"allowedOperations": ["read", "search"], "forbiddenOperations": ["search"]}},
        "spec.mcpProxy.policy.allowedOperations",
        "cannot be both allowed and forbidden",
    ),
    Bad(
        "unknown-operation",
        "dev",
        {"mcpProxy.policy": {"allowedOperations": ["read", "delete"]}},
        "spec.mcpProxy.policy.allowedOperations[1]",
        "Input should be 'read', 'analyze', 'search'",
        server_message='Unsupported value: "delete"',
    ),
    Bad(
        "production-latest-image",
        "production",
        {"image": "ghcr.io/techsapo/techsapo:latest"},
        "spec.image",
        "production needs a tag other than latest, or a digest",
    ),
    Bad(
        "production-untagged-image",
        "production",
        {"image": "registry.local:5000/techsapo"},
        "spec.image",
        "production needs a tag other than latest, or a digest",
    ),
    Bad(
        "cluster-two-shards",
        "dev",
        {"redis.mode": "cluster", "redis.shards": 2},
        "spec.redis.shards",
        "a Redis Cluster needs at least 3 shards",
    ),
    Bad(
        "autoscaling-min-over-max",
        "production",
        {"apiServer.autoscaling": {"minReplicas": 5, "maxReplicas": 3}},
        "spec.apiServer.autoscaling.minReplicas",
        "cannot be larger than maxReplicas",
    ),
    Bad(
        "peer-cidr-and-labels",
        "staging",
        {"llmGateway.networkPeers": [{"cidr": "10.20.0.0/16", "podLabels": {"app": "gateway"}}]},
        "spec.llmGateway.networkPeers[0]",
        "set either cidr, or namespaceLabels and podLabels",
    ),
    Bad(
        "unknown-field",
        "dev",
        {"apiServer.replica": 2},
        "spec.apiServer.replica",
        "unknown field",
        server_message="field not declared in schema",
    ),
    Bad(
        "unknown-environment",
        "dev",
        {"environment": "prod"},
        "spec.environment",
        "Input should be 'dev', 'staging' or 'production'",
        server_message='Unsupported value: "prod"',
    ),
]

GOOD = [
    ("dev-debug-and-writable", "dev", {"logging.level": "DEBUG", "security.readOnlyRootFilesystem": False}),
    ("staging-debug", "staging", {"logging.level": "DEBUG"}),
    ("production-digest", "production", {"image": "ghcr.io/techsapo/techsapo@sha256:" + "a" * 64}),
    ("production-registry-port-and-tag", "production", {"image": "registry.local:5000/techsapo:2.0.0"}),
    ("dev-cluster-redis", "dev", {"redis.mode": "cluster", "redis.shards": 3}),
    (
        "production-explicit-safe-flags",
        "production",
        {
            "security": {
                "readOnlyRootFilesystem": True,
                "allowDynamicConfig": False,
                "allowCodeModification": False,
            }
        },
    ),
    ("quantities-as-numbers", "dev", {"apiServer.resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}),
]


def bad_cases() -> list[Any]:
    return [pytest.param(case, id=case.id) for case in BAD]


def good_cases() -> list[Any]:
    return [pytest.param(environment, changes, id=name) for name, environment, changes in GOOD]
