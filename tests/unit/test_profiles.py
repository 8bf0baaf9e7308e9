"""Environment profiles: the brief's table as defaults, and what a spec may override."""

from __future__ import annotations

import pytest

from techsapo_operator import profiles, validation
from techsapo_operator.vocabulary import LogLevel, McpProxyMode, Operation, RedisMode
from tests import examples


def settings(environment: str, changes: dict[str, object] | None = None) -> profiles.Settings:
    return profiles.resolve(examples.techsapo(environment, changes).spec)


def minimal(environment: str) -> profiles.Settings:
    """An instance that sets nothing but what is required, so every profile default shows."""
    document = examples.document(environment)
    document["spec"] = {
        k: v for k, v in document["spec"].items() if k in ("environment", "image", "llmGateway")
    }
    return profiles.resolve(validation.parse(document).spec)


def test_dev_defaults_follow_the_brief() -> None:
    dev = minimal("dev")
    assert dev.read_only_root_filesystem is False
    assert dev.allow_dynamic_config is True
    assert dev.allow_code_modification is True
    assert dev.log_level is LogLevel.DEBUG
    assert dev.mcp_mode is McpProxyMode.SIDECAR
    assert dev.redis.mode is RedisMode.STANDALONE
    assert dev.redis.persistence is False
    assert dev.autoscaling is None
    assert dev.disruption_budgets is False


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_staging_and_production_defaults_are_read_only_and_isolated(environment: str) -> None:
    hardened = minimal(environment)
    assert hardened.read_only_root_filesystem is True
    assert hardened.allow_dynamic_config is False
    assert hardened.allow_code_modification is False
    assert hardened.log_level is LogLevel.INFO
    assert hardened.mcp_mode is McpProxyMode.ISOLATED
    assert hardened.redis.mode is RedisMode.CLUSTER
    assert (hardened.redis.shards, hardened.redis.replicas_per_shard, hardened.redis.pods) == (3, 1, 6)
    assert hardened.disruption_budgets is True


def test_production_autoscales_by_default_and_keeps_redis_volumes() -> None:
    production = minimal("production")
    assert production.autoscaling == profiles.AutoscalingSettings(3, 10, 70)
    assert production.redis.retain_on_delete is True
    assert minimal("staging").redis.retain_on_delete is False


def test_default_policy_is_the_briefs() -> None:
    policy = minimal("production").policy
    assert policy.allowed == (Operation.READ, Operation.ANALYZE, Operation.SEARCH)
    assert policy.forbidden == (Operation.WRITE, Operation.EXECUTE, Operation.MODIFY)


def test_hardened_environments_always_forbid_self_modifying_operations() -> None:
    policy = settings("staging", {"mcpProxy.policy": {"forbiddenOperations": ["search"]}}).policy
    assert policy.forbidden == (Operation.SEARCH, Operation.WRITE, Operation.EXECUTE, Operation.MODIFY)
    assert Operation.SEARCH not in policy.allowed


def test_dev_may_allow_what_production_forbids() -> None:
    policy = settings(
        "dev",
        {"mcpProxy.policy": {"allowedOperations": ["read", "write"], "forbiddenOperations": ["execute"]}},
    ).policy
    assert policy.allowed == (Operation.READ, Operation.WRITE)
    assert policy.forbidden == (Operation.EXECUTE,)


def test_override_where_the_profile_allows_it() -> None:
    staging = settings("staging", {"logging.level": "DEBUG", "apiServer.replicas": 5})
    assert staging.log_level is LogLevel.DEBUG
    assert staging.api_replicas == 5


def test_autoscaling_can_be_turned_off_in_production() -> None:
    assert settings("production", {"apiServer.autoscaling": {"enabled": False}}).autoscaling is None


def test_resources_override_merges_over_profile_defaults() -> None:
    resources = settings(
        "dev", {"apiServer.resources": {"limits": {"memory": "2Gi", "ephemeralStorage": "1Gi"}}}
    )
    limits = resources.api_resources["limits"]
    assert limits["memory"] == "2Gi"
    assert limits["ephemeral-storage"] == "1Gi"
    assert limits["cpu"] == profiles.PROFILES[profiles.DEV].resources["api-server"]["limits"]["cpu"]
    assert "ephemeral_storage" not in limits
