"""What the children's own status says about each component, as conditions.

Only the built-in controllers' reports count: a Deployment is ready when its controller has seen
its latest generation, rolled every replica to the latest template, and that many are available.
"""

from __future__ import annotations

from typing import Any

from techsapo_operator import conditions, profiles
from techsapo_operator.conditions import Observation
from techsapo_operator.vocabulary import McpProxyMode, RedisMode


def _generation_seen(live: dict[str, Any]) -> bool:
    status = live.get("status", {})
    return int(status.get("observedGeneration", 0)) >= int(live["metadata"].get("generation", 0))


def deployment(type_: str, live: dict[str, Any] | None, *, minimum: int = 0) -> Observation:
    """Ready once the latest template runs on every replica, and on at least ``minimum`` (an
    autoscaler's floor, which it reaches only after its first sync)."""
    if live is None:
        return Observation(type_, False, "Missing", "the Deployment does not exist yet")
    name = live["metadata"]["name"]
    wanted = max(int(live.get("spec", {}).get("replicas", 1)), minimum)
    status = live.get("status", {})
    updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
    if not _generation_seen(live):
        return Observation(
            type_, False, "Progressing", f"Deployment {name}: the controller has not seen the change yet"
        )
    if updated < wanted or total > updated:
        return Observation(
            type_, False, "Progressing", f"Deployment {name}: {updated} of {wanted} replicas updated"
        )
    if available < wanted:
        return Observation(
            type_, False, "Progressing", f"Deployment {name}: {available} of {wanted} replicas available"
        )
    return Observation(type_, True, "Ready", f"Deployment {name}: {available} of {wanted} replicas available")


def statefulset(type_: str, live: dict[str, Any] | None) -> Observation:
    if live is None:
        return Observation(type_, False, "Missing", "the StatefulSet does not exist yet")
    name = live["metadata"]["name"]
    wanted = int(live.get("spec", {}).get("replicas", 1))
    status = live.get("status", {})
    ready, updated = int(status.get("readyReplicas", 0)), int(status.get("updatedReplicas", 0))
    if not _generation_seen(live):
        return Observation(
            type_, False, "Progressing", f"StatefulSet {name}: the controller has not seen the change yet"
        )
    if status.get("currentRevision") != status.get("updateRevision") and updated < wanted:
        return Observation(
            type_, False, "Progressing", f"StatefulSet {name}: {updated} of {wanted} pods updated"
        )
    if ready < wanted:
        return Observation(type_, False, "Progressing", f"StatefulSet {name}: {ready} of {wanted} pods ready")
    return Observation(type_, True, "Ready", f"StatefulSet {name}: {ready} of {wanted} pods ready")


def redis(
    statefulset_observation: Observation, bootstrap: dict[str, Any] | None, *, cluster: bool
) -> Observation:
    """Redis is ready when its pods are, and, for a cluster, once the bootstrap Job formed it."""
    if not cluster or not statefulset_observation.status:
        return statefulset_observation
    if bootstrap is None:
        return Observation(conditions.REDIS_READY, False, "BootstrapPending", "the bootstrap Job starts next")
    name = bootstrap["metadata"]["name"]
    for condition in bootstrap.get("status", {}).get("conditions", []):
        if condition.get("type") == "Complete" and condition.get("status") == "True":
            return Observation(
                conditions.REDIS_READY,
                True,
                "ClusterFormed",
                f"{statefulset_observation.message}; Job {name} formed the cluster",
            )
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            reason = condition.get("reason", "Failed")
            return Observation(
                conditions.REDIS_READY,
                False,
                "BootstrapFailed",
                f"Job {name} failed ({reason}): {condition.get('message', '')}; see its pod's log",
            )
    return Observation(conditions.REDIS_READY, False, "Bootstrapping", f"Job {name} is forming the cluster")


def policy(desired: dict[str, Any], live: dict[str, Any] | None, policy_hash: str) -> Observation:
    name = desired["metadata"]["name"]
    if live is None:
        return Observation(
            conditions.POLICY_ENFORCED, False, "Missing", f"ConfigMap {name} does not exist yet"
        )
    if live.get("data") != desired["data"]:
        return Observation(
            conditions.POLICY_ENFORCED, False, "Drifted", f"ConfigMap {name} differs from the policy"
        )
    allowed = desired["data"]["allowed_operations"] or "nothing"
    return Observation(
        conditions.POLICY_ENFORCED,
        True,
        "Enforced",
        f"ConfigMap {name} ({policy_hash}) allows {allowed}; everything else is denied",
    )


def components(
    settings: profiles.Settings,
    *,
    api: dict[str, Any] | None,
    wall_bounce: dict[str, Any] | None,
    mcp_proxy: dict[str, Any] | None,
    redis_set: dict[str, Any] | None,
    bootstrap: dict[str, Any] | None,
) -> list[Observation]:
    """One observation per component, from its live workload (None where it is missing)."""
    floor = settings.autoscaling.min_replicas if settings.autoscaling else 0
    observed = [
        deployment(conditions.API_SERVER_READY, api, minimum=floor),
        deployment(conditions.WALL_BOUNCE_READY, wall_bounce),
    ]
    if settings.mcp_mode is McpProxyMode.SIDECAR:
        sidecars_ready = all(o.status for o in observed)
        observed.append(
            Observation(
                conditions.MCP_PROXY_READY,
                sidecars_ready,
                "Sidecar",
                "the MCP gateway runs beside the API server and the workers",
            )
        )
    else:
        observed.append(deployment(conditions.MCP_PROXY_READY, mcp_proxy))
    cluster = settings.redis.mode is RedisMode.CLUSTER
    observed.append(redis(statefulset(conditions.REDIS_READY, redis_set), bootstrap, cluster=cluster))
    return observed
