"""ServiceAccounts: one per component, none with an API token, since no TechSapo pod calls the API."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import deployments, jobs, meta
from techsapo_operator.vocabulary import McpProxyMode, RedisMode


def _service_account(instance: meta.Instance, suffix: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": instance.metadata(instance.child(suffix), component),
        "automountServiceAccountToken": False,
    }


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    accounts = [
        _service_account(instance, deployments.API_SUFFIX, meta.API_SERVER),
        _service_account(instance, deployments.WALL_BOUNCE_SUFFIX, meta.WALL_BOUNCE),
        _service_account(instance, "redis", meta.REDIS),
    ]
    if instance.settings.mcp_mode is McpProxyMode.ISOLATED:
        accounts.append(_service_account(instance, deployments.MCP_PROXY_SUFFIX, meta.MCP_PROXY))
    if instance.settings.redis.mode is RedisMode.CLUSTER:
        accounts.append(_service_account(instance, jobs.BOOTSTRAP_SUFFIX, jobs.BOOTSTRAP_COMPONENT))
    return accounts
