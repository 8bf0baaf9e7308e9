"""The pure renderer: every child of every environment, hardened, labelled, owned and hashed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from techsapo_operator import rendering
from techsapo_operator.rendering import meta
from tests import examples

UID = "8d1f2c1e-0000-4000-8000-000000000001"


def children(environment: str, changes: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return rendering.render(examples.techsapo(environment, changes, uid=UID))


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for child in objects:
        if child["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield child["metadata"]["name"], child["spec"]["template"]


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, template in pod_templates(objects):
        for container in template["spec"]["containers"]:
            yield f"{name}/{container['name']}", container, template


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_render_is_deterministic(environment: str) -> None:
    first = json.dumps(children(environment), sort_keys=True)
    assert json.dumps(children(environment), sort_keys=True) == first


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_child_names_are_unique_per_kind(environment: str) -> None:
    counts = Counter((c["kind"], c["metadata"]["name"]) for c in children(environment))
    assert [key for key, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_every_child_is_labelled_and_owned_by_the_techsapo(environment: str) -> None:
    techsapo = examples.techsapo(environment, uid=UID)
    for child in rendering.render(techsapo):
        metadata = child["metadata"]
        labels = metadata["labels"]
        where = f"{child['kind']} {metadata['name']}"
        assert metadata["namespace"] == techsapo.metadata.namespace, where
        assert labels[meta.NAME_LABEL] == "techsapo", where
        assert labels[meta.INSTANCE_LABEL] == techsapo.metadata.name, where
        assert labels[meta.MANAGED_BY_LABEL] == "techsapo-operator", where
        assert labels[meta.COMPONENT_LABEL], where
        assert labels["techsapo.io/environment"] == environment, where
        assert metadata["ownerReferences"] == [
            {
                "apiVersion": "techsapo.io/v1alpha1",
                "kind": "TechSapo",
                "name": techsapo.metadata.name,
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], where


def test_render_from_a_file_without_uid_has_no_owner_reference() -> None:
    for child in rendering.render(examples.techsapo("dev", uid="")):
        assert "ownerReferences" not in child["metadata"]


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_every_container_is_hardened(environment: str) -> None:
    read_only = environment != "dev"
    for where, container, template in containers(children(environment)):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["privileged"] is False, where
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] > 0 and context["runAsGroup"] > 0, where
        assert context["capabilities"] == {"drop": ["ALL"]}, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert context["readOnlyRootFilesystem"] is read_only, where
        pod = template["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for section in ("requests", "limits"):
            assert {"cpu", "memory", "ephemeral-storage"} <= set(container["resources"][section]), where
        assert container["image"] and not container["image"].endswith(":latest"), where


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_writable_paths_are_only_size_limited_empty_dirs_or_redis_data(environment: str) -> None:
    for name, template in pod_templates(children(environment)):
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for container in template["spec"]["containers"]:
            for mount in container["volumeMounts"]:
                where = f"{name}/{container['name']}:{mount['mountPath']}"
                volume = volumes.get(mount["name"])
                if mount.get("readOnly"):
                    assert volume is not None and "configMap" in volume, where
                    continue
                if volume is None:  # from the StatefulSet's claim template
                    assert mount["name"] == "data" and mount["mountPath"] == "/data", where
                    continue
                assert volume["emptyDir"]["sizeLimit"], where


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_no_pod_mounts_a_service_account_token(environment: str) -> None:
    objects = children(environment)
    for account in by_kind(objects, "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False
    for name, template in pod_templates(objects):
        assert template["spec"]["automountServiceAccountToken"] is False, name
        assert template["spec"]["serviceAccountName"] in by_kind(objects, "ServiceAccount"), name


def test_policy_config_map_has_the_briefs_keys_and_values() -> None:
    policy = by_kind(children("production"), "ConfigMap")["techsapo-mcp-security-config"]
    assert policy["data"] == {
        "allowed_operations": "read,analyze,search",
        "forbidden_operations": "write,execute,modify",
        "tool_operations": '{"read_file": "read", "search_code": "search", "write_file": "write"}',
    }


def test_app_config_carries_the_profile_flags() -> None:
    for environment, flag in (("dev", True), ("staging", False), ("production", False)):
        config_map = by_kind(children(environment), "ConfigMap")
        config = json.loads(
            next(c for n, c in config_map.items() if n.endswith("-config") and "config.json" in c["data"])[
                "data"
            ]["config.json"]
        )
        assert config["allowDynamicConfig"] is flag, environment
        assert config["allowCodeModification"] is flag, environment
        assert config["environment"] == environment


def config_hashes(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {
        name: template["metadata"]["annotations"][meta.CONFIG_HASH_ANNOTATION]
        for name, template in pod_templates(objects)
    }


def test_policy_change_changes_the_hash_of_the_pods_that_mount_it() -> None:
    before = config_hashes(children("production"))
    after = config_hashes(children("production", {"mcpProxy.policy.allowedOperations": ["read"]}))
    assert after["techsapo-api"] != before["techsapo-api"]
    assert after["techsapo-wall-bounce"] != before["techsapo-wall-bounce"]
    assert after["techsapo-mcp-proxy"] != before["techsapo-mcp-proxy"]
    assert after["techsapo-redis-cluster"] == before["techsapo-redis-cluster"]


def test_unrelated_change_keeps_the_hashes() -> None:
    before = config_hashes(children("staging"))
    assert config_hashes(children("staging", {"apiServer.replicas": 7})) == before


def test_app_config_change_rolls_the_app_but_not_the_proxy() -> None:
    before = config_hashes(children("production"))
    after = config_hashes(children("production", {"logging.level": "WARN"}))
    assert after["techsapo-api"] != before["techsapo-api"]
    assert after["techsapo-mcp-proxy"] == before["techsapo-mcp-proxy"]


def container_names(deployment: dict[str, Any]) -> list[str]:
    return [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]


def test_dev_runs_the_mcp_gateway_as_a_sidecar_and_no_proxy_deployment() -> None:
    deployments = by_kind(children("dev"), "Deployment")
    assert {name: container_names(d) for name, d in deployments.items()} == {
        "techdev-api": ["api-server", "mcp-gateway"],
        "techdev-wall-bounce": ["wall-bounce-worker", "mcp-gateway"],
    }
    gateway = deployments["techdev-api"]["spec"]["template"]["spec"]["containers"][1]
    assert "127.0.0.1:8090" in gateway["args"]
    assert "cipher=http://cipher.techdev.svc:3000/mcp" in gateway["args"]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_hardened_environments_run_an_isolated_proxy(environment: str) -> None:
    objects = children(environment)
    deployments = by_kind(objects, "Deployment")
    assert {name: container_names(d) for name, d in deployments.items()} == {
        "techsapo-api": ["api-server"],
        "techsapo-wall-bounce": ["wall-bounce-worker"],
        "techsapo-mcp-proxy": ["mcp-gateway"],
    }
    assert "techsapo-mcp-proxy" in by_kind(objects, "Service")
    gateway = deployments["techsapo-mcp-proxy"]["spec"]["template"]["spec"]["containers"][0]
    assert "0.0.0.0:8090" in gateway["args"]


def test_production_autoscales_the_api_server_and_leaves_its_replicas_to_the_autoscaler() -> None:
    objects = children("production")
    autoscaler = by_kind(objects, "HorizontalPodAutoscaler")["techsapo-api"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "techsapo-api"
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (3, 12)
    assert "replicas" not in by_kind(objects, "Deployment")["techsapo-api"]["spec"]


def test_without_autoscaling_the_deployment_sets_its_replicas() -> None:
    objects = children("staging")
    assert by_kind(objects, "HorizontalPodAutoscaler") == {}
    assert by_kind(objects, "Deployment")["techsapo-api"]["spec"]["replicas"] == 2


def test_disruption_budgets_only_where_the_profile_asks() -> None:
    assert by_kind(children("dev"), "PodDisruptionBudget") == {}
    assert set(by_kind(children("production"), "PodDisruptionBudget")) == {
        "techsapo-api",
        "techsapo-wall-bounce",
        "techsapo-mcp-proxy",
        "techsapo-redis-cluster",
    }


def test_redis_cluster_has_shards_times_one_plus_replicas_pods() -> None:
    objects = children("production", {"redis.shards": 4, "redis.replicasPerShard": 2})
    statefulset = by_kind(objects, "StatefulSet")["techsapo-redis-cluster"]
    assert statefulset["spec"]["replicas"] == 12
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    assert statefulset["spec"]["serviceName"] == "techsapo-redis-cluster-headless"
    conf = by_kind(objects, "ConfigMap")["techsapo-redis-config"]["data"]["redis.conf"]
    assert "cluster-enabled yes" in conf
    assert 'rename-command FLUSHALL ""' in conf


def test_dev_redis_is_one_pod_without_persistence() -> None:
    objects = children("dev")
    statefulset = by_kind(objects, "StatefulSet")["techdev-redis"]
    assert statefulset["spec"]["replicas"] == 1
    assert "volumeClaimTemplates" not in statefulset["spec"]
    conf = by_kind(objects, "ConfigMap")["techdev-redis-config"]["data"]["redis.conf"]
    assert "appendonly no" in conf and "cluster-enabled" not in conf


def test_switching_redis_mode_renames_its_objects_so_the_old_ones_can_be_pruned() -> None:
    standalone = {(c["kind"], c["metadata"]["name"]) for c in children("dev")}
    cluster = {(c["kind"], c["metadata"]["name"]) for c in children("dev", {"redis.mode": "cluster"})}
    assert ("StatefulSet", "techdev-redis") in standalone - cluster
    assert ("StatefulSet", "techdev-redis-cluster") in cluster - standalone


def test_network_policies_start_from_default_deny() -> None:
    policies = by_kind(children("production"), "NetworkPolicy")
    deny = policies["techsapo-default-deny"]["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {meta.NAME_LABEL: "techsapo", meta.INSTANCE_LABEL: "techsapo"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    proxy = policies["techsapo-mcp-proxy"]["spec"]
    sources = [
        peer["podSelector"]["matchLabels"][meta.COMPONENT_LABEL] for peer in proxy["ingress"][0]["from"]
    ]
    assert sources == ["api-server", "wall-bounce"]
    upstream_ports = sorted(rule["ports"][0]["port"] for rule in proxy["egress"][1:])
    assert upstream_ports == [3000, 3001]
