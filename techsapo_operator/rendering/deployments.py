"""Deployments: the API server, the Wall-Bounce workers, and the isolated MCP proxy."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import configmaps, meta, pods
from techsapo_operator.vocabulary import McpProxyMode

API_SUFFIX = "api"
WALL_BOUNCE_SUFFIX = "wall-bounce"
MCP_PROXY_SUFFIX = "mcp-proxy"
METRICS_PORT = 9090
CONFIG_PATH = "/etc/techsapo"
POLICY_PATH = "/etc/techsapo/mcp-policy"


def app_config_hash(instance: meta.Instance) -> str:
    """The hash of everything the app pods mount: a change rolls them."""
    return meta.content_hash(configmaps.app(instance)["data"], configmaps.policy_data(instance))


def policy_hash(instance: meta.Instance) -> str:
    """The hash of the operations policy, which is all the isolated proxy mounts."""
    return meta.content_hash(configmaps.policy_data(instance))


def gateway_container(instance: meta.Instance, *, listen_host: str) -> pods.Container:
    """The MCP gateway, which enforces the operations policy on every tool call."""
    settings = instance.settings
    args = ["gateway", "--policy", POLICY_PATH, "--listen", f"{listen_host}:{settings.mcp_port}"]
    for upstream in settings.mcp_upstreams:
        args += ["--upstream", f"{upstream.name}={upstream.url}"]
    return pods.Container(
        name="mcp-gateway",
        image=settings.mcp_image,
        args=args,
        resources=settings.mcp_resources,
        mounts=[
            pods.config_map_mount("mcp-policy", POLICY_PATH, instance.child(configmaps.POLICY_SUFFIX)),
            pods.scratch_mount("gateway-tmp", "/tmp"),
        ],
        ports=[{"name": "mcp", "containerPort": settings.mcp_port, "protocol": "TCP"}],
        env=[{"name": "LOG_LEVEL", "value": settings.log_level.value}],
        probe=pods.tcp_probe("mcp"),
    )


def _app_container(
    instance: meta.Instance,
    *,
    role: str,
    ports: list[dict[str, Any]],
    resources: dict[str, dict[str, str]],
    probe_port: str,
) -> pods.Container:
    settings = instance.settings
    return pods.Container(
        name=role,
        image=settings.image,
        args=[role],
        resources=resources,
        mounts=[
            pods.config_map_mount("config", CONFIG_PATH, instance.child(configmaps.CONFIG_SUFFIX)),
            pods.config_map_mount("mcp-policy", POLICY_PATH, instance.child(configmaps.POLICY_SUFFIX)),
            pods.scratch_mount("tmp", "/tmp"),
        ],
        ports=ports,
        env=[
            {"name": "TECHSAPO_CONFIG", "value": f"{CONFIG_PATH}/config.json"},
            {"name": "TECHSAPO_ENVIRONMENT", "value": settings.environment.value},
            {"name": "LOG_LEVEL", "value": settings.log_level.value},
            {"name": "NODE_ENV", "value": "development" if settings.environment == "dev" else "production"},
        ],
        probe=pods.http_probe(probe_port, "/healthz"),
    )


def _with_sidecar(instance: meta.Instance, app: pods.Container) -> list[pods.Container]:
    if instance.settings.mcp_mode is McpProxyMode.SIDECAR:
        return [app, gateway_container(instance, listen_host="127.0.0.1")]
    return [app]


def _deployment(
    instance: meta.Instance,
    *,
    suffix: str,
    component: str,
    replicas: int | None,
    containers: list[pods.Container],
    mounted_hash: str,
) -> dict[str, Any]:
    name = instance.child(suffix)
    spec: dict[str, Any] = {}
    if replicas is not None:  # left out when an autoscaler owns the count
        spec["replicas"] = replicas
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": instance.selector(component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": pods.pod_template(
                instance,
                component=component,
                service_account=name,
                containers=containers,
                config_hash=mounted_hash,
            ),
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": instance.metadata(name, component),
        "spec": spec,
    }


def api_server(instance: meta.Instance) -> dict[str, Any]:
    settings = instance.settings
    app = _app_container(
        instance,
        role="api-server",
        ports=[
            {"name": "http", "containerPort": settings.api_port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        resources=settings.api_resources,
        probe_port="http",
    )
    replicas = None if settings.autoscaling else settings.api_replicas
    return _deployment(
        instance,
        suffix=API_SUFFIX,
        component=meta.API_SERVER,
        replicas=replicas,
        containers=_with_sidecar(instance, app),
        mounted_hash=app_config_hash(instance),
    )


def wall_bounce(instance: meta.Instance) -> dict[str, Any]:
    settings = instance.settings
    app = _app_container(
        instance,
        role="wall-bounce-worker",
        ports=[{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        resources=settings.worker_resources,
        probe_port="metrics",
    )
    return _deployment(
        instance,
        suffix=WALL_BOUNCE_SUFFIX,
        component=meta.WALL_BOUNCE,
        replicas=settings.workers,
        containers=_with_sidecar(instance, app),
        mounted_hash=app_config_hash(instance),
    )


def mcp_proxy(instance: meta.Instance) -> dict[str, Any]:
    return _deployment(
        instance,
        suffix=MCP_PROXY_SUFFIX,
        component=meta.MCP_PROXY,
        replicas=instance.settings.mcp_replicas,
        containers=[gateway_container(instance, listen_host="0.0.0.0")],
        mounted_hash=policy_hash(instance),
    )


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    children = [api_server(instance), wall_bounce(instance)]
    if instance.settings.mcp_mode is McpProxyMode.ISOLATED:
        children.append(mcp_proxy(instance))
    return children
