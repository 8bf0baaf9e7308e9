"""Services: the API server, the isolated MCP proxy, and Redis (client and headless)."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import configmaps, deployments, meta, statefulsets
from techsapo_operator.vocabulary import McpProxyMode, RedisMode


def _service(
    instance: meta.Instance, *, name: str, component: str, ports: list[dict[str, Any]], headless: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP", "selector": instance.selector(component), "ports": ports}
    if headless:
        # Peers must resolve each other before they are ready, to form the cluster.
        spec.update({"clusterIP": "None", "publishNotReadyAddresses": True})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": instance.metadata(name, component),
        "spec": spec,
    }


def _port(name: str, port: int, target: str) -> dict[str, Any]:
    return {"name": name, "port": port, "targetPort": target, "protocol": "TCP"}


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    settings = instance.settings
    redis_ports = [_port("redis", configmaps.REDIS_PORT, "redis")]
    services = [
        _service(
            instance,
            name=instance.child(deployments.API_SUFFIX),
            component=meta.API_SERVER,
            ports=[_port("http", settings.api_port, "http")],
        ),
        _service(instance, name=configmaps.redis_service(instance), component=meta.REDIS, ports=redis_ports),
    ]
    if settings.mcp_mode is McpProxyMode.ISOLATED:
        services.append(
            _service(
                instance,
                name=instance.child(deployments.MCP_PROXY_SUFFIX),
                component=meta.MCP_PROXY,
                ports=[_port("mcp", settings.mcp_port, "mcp")],
            )
        )
    headless_ports = list(redis_ports)
    if settings.redis.mode is RedisMode.CLUSTER:
        headless_ports.append(_port("cluster-bus", configmaps.REDIS_BUS_PORT, "cluster-bus"))
    services.append(
        _service(
            instance,
            name=statefulsets.headless_service(instance),
            component=meta.REDIS,
            ports=headless_ports,
            headless=True,
        )
    )
    return services
