"""ConfigMaps: the operations policy (mcp-security-config), the app's config, and redis.conf."""

from __future__ import annotations

import json
import re
from typing import Any

from techsapo_operator.rendering import meta
from techsapo_operator.vocabulary import McpProxyMode, RedisMode

POLICY_SUFFIX = "mcp-security-config"
CONFIG_SUFFIX = "config"
REDIS_CONFIG_SUFFIX = "redis-config"
REDIS_PORT = 6379
REDIS_BUS_PORT = 16379

# Redis commands that rewrite or wipe the server, disabled as the forbidden operations require.
DISABLED_REDIS_COMMANDS = (
    "FLUSHALL",
    "FLUSHDB",
    "CONFIG",
    "DEBUG",
    "SHUTDOWN",
    "MODULE",
    "SCRIPT",
    "EVAL",
    "EVALSHA",
    "FUNCTION",
    "MIGRATE",
    "REPLICAOF",
    "SLAVEOF",
    "SAVE",
    "BGREWRITEAOF",
)

_BINARY_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "": 1,
}


def quantity_bytes(quantity: str) -> int:
    """Bytes of a memory quantity such as 256Mi or 1G (decimal exponents are not used here)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)", quantity)
    if match is None:
        raise ValueError(f"unsupported memory quantity {quantity!r}; use a number with Ki, Mi, Gi, k, M or G")
    return int(float(match.group(1)) * _BINARY_SUFFIXES[match.group(2)])


def policy_data(instance: meta.Instance) -> dict[str, str]:
    """The brief's contract: comma-separated allowed and forbidden operations, plus the tool map."""
    policy = instance.settings.policy
    return {
        "allowed_operations": ",".join(op.value for op in policy.allowed),
        "forbidden_operations": ",".join(op.value for op in policy.forbidden),
        "tool_operations": json.dumps(
            {tool: op.value for tool, op in policy.tool_operations.items()}, sort_keys=True
        ),
    }


def mcp_endpoints(instance: meta.Instance) -> list[str]:
    """Where the app reaches each upstream MCP server: always through the gateway, at /mcp/<name>."""
    settings = instance.settings
    if settings.mcp_mode is McpProxyMode.SIDECAR:
        base = f"http://127.0.0.1:{settings.mcp_port}"
    else:
        base = f"http://{instance.child('mcp-proxy')}.{instance.namespace}.svc:{settings.mcp_port}"
    return [f"{base}/mcp/{upstream.name}" for upstream in settings.mcp_upstreams]


def redis_service(instance: meta.Instance) -> str:
    """The client Service of the instance's Redis, whichever the mode."""
    suffix = "redis-cluster" if instance.settings.redis.mode is RedisMode.CLUSTER else "redis"
    return instance.child(suffix)


def app_config(instance: meta.Instance) -> dict[str, Any]:
    settings = instance.settings
    queue = settings.wall_bounce.queue
    return {
        "environment": settings.environment.value,
        "allowDynamicConfig": settings.allow_dynamic_config,
        "allowCodeModification": settings.allow_code_modification,
        "logLevel": settings.log_level.value,
        "logFormat": settings.log_format.value,
        "mcpServers": mcp_endpoints(instance),
        "mcpPolicyPath": "/etc/techsapo/mcp-policy",
        "redis": {
            "mode": settings.redis.mode.value,
            "url": f"redis://{redis_service(instance)}.{instance.namespace}.svc:{REDIS_PORT}",
        },
        "llmGateway": {
            "url": settings.llm_gateway.url,
            "timeoutSeconds": settings.llm_gateway.timeout_seconds,
        },
        "apiServer": {"port": settings.api_port},
        "wallBounce": {
            "concurrency": settings.wall_bounce.concurrency,
            "llmProviders": list(settings.wall_bounce.llm_providers),
            "queue": {
                "name": queue.name,
                "maxLength": queue.max_length,
                "visibilityTimeoutSeconds": queue.visibility_timeout_seconds,
                "maxAttempts": queue.max_attempts,
            },
        },
    }


def redis_conf(instance: meta.Instance) -> str:
    redis = instance.settings.redis
    lines = [
        "# Rendered by techsapo-operator; edits are reverted.",
        "bind * -::*",
        "protected-mode yes",
        f"port {REDIS_PORT}",
        'save ""',
        f"appendonly {'yes' if redis.persistence else 'no'}",
        f"maxmemory {quantity_bytes(redis.max_memory)}",
        "maxmemory-policy allkeys-lru",
        "enable-debug-command no",
        "enable-module-command no",
    ]
    if redis.mode is RedisMode.CLUSTER:
        lines += [
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",  # in the data folder, given as --dir
            "cluster-node-timeout 5000",
            "cluster-preferred-endpoint-type hostname",
        ]
    lines += [f'rename-command {command} ""' for command in DISABLED_REDIS_COMMANDS]
    return "\n".join(lines) + "\n"


def _config_map(instance: meta.Instance, suffix: str, component: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": instance.metadata(instance.child(suffix), component),
        "data": data,
    }


def policy(instance: meta.Instance) -> dict[str, Any]:
    return _config_map(instance, POLICY_SUFFIX, meta.POLICY, policy_data(instance))


def app(instance: meta.Instance) -> dict[str, Any]:
    config = json.dumps(app_config(instance), indent=2, sort_keys=True) + "\n"
    return _config_map(instance, CONFIG_SUFFIX, meta.CONFIG, {"config.json": config})


def redis(instance: meta.Instance) -> dict[str, Any]:
    return _config_map(instance, REDIS_CONFIG_SUFFIX, meta.REDIS, {"redis.conf": redis_conf(instance)})


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    return [policy(instance), app(instance), redis(instance)]
