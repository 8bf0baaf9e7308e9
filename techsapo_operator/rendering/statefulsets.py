"""StatefulSets: Redis, one pod standalone, or shards x (1 + replicas) pods as a Redis Cluster."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import configmaps, meta, pods
from techsapo_operator.vocabulary import RedisMode

STANDALONE_SUFFIX = "redis"
CLUSTER_SUFFIX = "redis-cluster"
DATA_VOLUME = "data"


def name(instance: meta.Instance) -> str:
    cluster = instance.settings.redis.mode is RedisMode.CLUSTER
    return instance.child(CLUSTER_SUFFIX if cluster else STANDALONE_SUFFIX)


def headless_service(instance: meta.Instance) -> str:
    return f"{name(instance)}-headless"


def _redis_container(instance: meta.Instance) -> pods.Container:
    redis = instance.settings.redis
    args = ["redis-server", "/etc/redis/redis.conf", "--dir", "/data"]  # data only on the data volume
    ports = [{"name": "redis", "containerPort": configmaps.REDIS_PORT, "protocol": "TCP"}]
    env: list[dict[str, Any]] = []
    if redis.mode is RedisMode.CLUSTER:
        # Peers find each other by stable DNS names, which survive pod IP changes.
        env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        announce = f"$(POD_NAME).{headless_service(instance)}.{instance.namespace}.svc"
        args += ["--cluster-announce-hostname", announce]
        ports.append({"name": "cluster-bus", "containerPort": configmaps.REDIS_BUS_PORT, "protocol": "TCP"})
    data = (
        pods.Mount(name=DATA_VOLUME, path="/data", volume={}, read_only=False)
        if redis.persistence
        else pods.scratch_mount(DATA_VOLUME, "/data", size=redis.storage_size)
    )
    return pods.Container(
        name="redis",
        image=redis.image,
        args=args,
        resources=redis.resources,
        mounts=[
            pods.config_map_mount(
                "redis-config", "/etc/redis", instance.child(configmaps.REDIS_CONFIG_SUFFIX)
            ),
            data,
            pods.scratch_mount("tmp", "/tmp"),
        ],
        ports=ports,
        env=env,
        probe=pods.tcp_probe("redis"),
    )


def _volume_claim_templates(instance: meta.Instance) -> list[dict[str, Any]]:
    redis = instance.settings.redis
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": redis.storage_size}},
    }
    if redis.storage_class_name:
        claim_spec["storageClassName"] = redis.storage_class_name
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": DATA_VOLUME, "labels": instance.selector(meta.REDIS)},
            "spec": claim_spec,
        }
    ]


def redis(instance: meta.Instance) -> dict[str, Any]:
    settings = instance.settings.redis
    template = pods.pod_template(
        instance,
        component=meta.REDIS,
        service_account=instance.child("redis"),
        containers=[_redis_container(instance)],
        config_hash=meta.content_hash(configmaps.redis(instance)["data"]),
    )
    if settings.persistence:  # the data volume comes from the claim template, not the pod
        template["spec"]["volumes"] = [v for v in template["spec"]["volumes"] if v["name"] != DATA_VOLUME]
    spec: dict[str, Any] = {
        "replicas": settings.pods,
        "serviceName": headless_service(instance),
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": instance.selector(meta.REDIS)},
        "updateStrategy": {"type": "RollingUpdate"},
        "template": template,
    }
    if settings.persistence:
        spec["volumeClaimTemplates"] = _volume_claim_templates(instance)
        policy = "Retain" if settings.retain_on_delete else "Delete"
        spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": policy, "whenScaled": "Retain"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": instance.metadata(name(instance), meta.REDIS),
        "spec": spec,
    }


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    return [redis(instance)]
