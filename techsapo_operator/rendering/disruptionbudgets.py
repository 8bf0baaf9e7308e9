"""PodDisruptionBudgets, where the profile asks for them (staging and production)."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import deployments, meta, statefulsets
from techsapo_operator.vocabulary import McpProxyMode, RedisMode


def _budget(instance: meta.Instance, name: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": instance.metadata(name, component),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": instance.selector(component)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    settings = instance.settings
    if not settings.disruption_budgets:
        return []
    budgets = [
        _budget(instance, instance.child(deployments.API_SUFFIX), meta.API_SERVER),
        _budget(instance, instance.child(deployments.WALL_BOUNCE_SUFFIX), meta.WALL_BOUNCE),
    ]
    if settings.mcp_mode is McpProxyMode.ISOLATED:
        budgets.append(_budget(instance, instance.child(deployments.MCP_PROXY_SUFFIX), meta.MCP_PROXY))
    if settings.redis.mode is RedisMode.CLUSTER:
        budgets.append(_budget(instance, statefulsets.name(instance), meta.REDIS))
    return budgets
