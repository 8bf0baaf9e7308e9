"""Environment profiles: the one place that turns ``spec.environment`` into defaults and limits.

The brief's table, as the operator implements it:

=================  ==================  ===================  ====================
setting            dev                 staging              production
=================  ==================  ===================  ====================
root file system   writable            read-only (pinned)   read-only (pinned)
app flags          dynamic config and  both false (pinned)  both false (pinned)
                   code changes on
MCP proxy          sidecar             isolated (pinned)    isolated (pinned)
Redis              standalone          cluster 3x1          cluster 3x1 (pinned)
log level          DEBUG               INFO                 INFO, never DEBUG
disruption budget  no                  yes                  yes
autoscaling        off                 off                  on (3 to 10)
=================  ==================  ===================  ====================

A value the spec leaves unset takes the profile's default; ``PINS`` lists what a spec may not
override, and ``resolve`` turns a spec into concrete ``Settings`` that the renderer reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from techsapo_operator import rules
from techsapo_operator.vocabulary import (
    SELF_MODIFYING_OPERATIONS,
    Environment,
    LogFormat,
    LogLevel,
    McpProxyMode,
    Operation,
    RedisMode,
)

if TYPE_CHECKING:
    from techsapo_operator import models

T = TypeVar("T")
DEV, STAGING, PRODUCTION = Environment.DEV, Environment.STAGING, Environment.PRODUCTION
HARDENED = (STAGING.value, PRODUCTION.value)

# The operator's own image, which also runs the MCP gateway by default.
OPERATOR_IMAGE = "ghcr.io/techsapo/techsapo-operator:0.1.0"

PINS = (
    rules.pin(
        field="security.readOnlyRootFilesystem",
        environments=HARDENED,
        forbidden=False,
        why="they run read-only; remove the field or set it to true",
    ),
    rules.pin(
        field="security.allowDynamicConfig",
        environments=HARDENED,
        forbidden=True,
        why="the system must never rewrite itself; remove the field or set it to false",
    ),
    rules.pin(
        field="security.allowCodeModification",
        environments=HARDENED,
        forbidden=True,
        why="the system must never rewrite itself; remove the field or set it to false",
    ),
    rules.pin(
        field="logging.level",
        environments=(PRODUCTION.value,),
        forbidden=LogLevel.DEBUG.value,
        why="use INFO, WARN or ERROR",
    ),
    rules.pin(
        field="mcpProxy.mode",
        environments=HARDENED,
        forbidden=McpProxyMode.SIDECAR.value,
        why="MCP servers are reached only through the isolated proxy; use isolated",
    ),
    rules.pin(
        field="redis.mode",
        environments=(PRODUCTION.value,),
        forbidden=RedisMode.STANDALONE.value,
        why="production runs a Redis Cluster; use cluster",
    ),
    rules.pin(
        field="approval.required",
        environments=(PRODUCTION.value,),
        forbidden=False,
        why="production applies config changes only after an admin approves them",
    ),
    rules.pin(
        field="approval.required",
        environments=(DEV.value,),
        forbidden=True,
        why="dev applies changes at once; use staging to rehearse approvals",
    ),
)


@dataclass(frozen=True)
class Profile:
    """The defaults of one environment."""

    read_only_root_filesystem: bool
    allow_self_modification: bool
    log_level: LogLevel
    mcp_mode: McpProxyMode
    redis_mode: RedisMode
    redis_persistence: bool
    retain_redis_volumes: bool
    api_replicas: int
    workers: int
    mcp_replicas: int
    autoscaling: bool
    autoscaling_min: int
    disruption_budgets: bool
    approval_required: bool
    resources: dict[str, dict[str, dict[str, str]]]
    """Per component (api-server, wall-bounce, mcp-proxy, redis): requests and limits."""


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": "64Mi"},
        "limits": {"cpu": cpu_limit, "memory": memory_limit, "ephemeral-storage": "256Mi"},
    }


_SMALL = {
    "api-server": _resources("100m", "128Mi", "500m", "256Mi"),
    "wall-bounce": _resources("100m", "256Mi", "500m", "512Mi"),
    "mcp-proxy": _resources("50m", "64Mi", "250m", "128Mi"),
    "redis": _resources("50m", "128Mi", "250m", "320Mi"),
}
_LARGE = {
    "api-server": _resources("500m", "512Mi", "2", "1Gi"),
    "wall-bounce": _resources("500m", "1Gi", "2", "2Gi"),
    "mcp-proxy": _resources("200m", "128Mi", "1", "256Mi"),
    "redis": _resources("250m", "512Mi", "1", "1Gi"),
}

PROFILES: dict[Environment, Profile] = {
    DEV: Profile(
        read_only_root_filesystem=False,
        allow_self_modification=True,
        log_level=LogLevel.DEBUG,
        mcp_mode=McpProxyMode.SIDECAR,
        redis_mode=RedisMode.STANDALONE,
        redis_persistence=False,
        retain_redis_volumes=False,
        api_replicas=1,
        workers=1,
        mcp_replicas=1,
        autoscaling=False,
        autoscaling_min=1,
        disruption_budgets=False,
        approval_required=False,
        resources=_SMALL,
    ),
    STAGING: Profile(
        read_only_root_filesystem=True,
        allow_self_modification=False,
        log_level=LogLevel.INFO,
        mcp_mode=McpProxyMode.ISOLATED,
        redis_mode=RedisMode.CLUSTER,
        redis_persistence=True,
        retain_redis_volumes=False,
        api_replicas=2,
        workers=2,
        mcp_replicas=2,
        autoscaling=False,
        autoscaling_min=2,
        disruption_budgets=True,
        approval_required=False,
        resources=_SMALL,
    ),
    PRODUCTION: Profile(
        read_only_root_filesystem=True,
        allow_self_modification=False,
        log_level=LogLevel.INFO,
        mcp_mode=McpProxyMode.ISOLATED,
        redis_mode=RedisMode.CLUSTER,
        redis_persistence=True,
        retain_redis_volumes=True,
        api_replicas=3,
        workers=4,
        mcp_replicas=3,
        autoscaling=True,
        autoscaling_min=3,
        disruption_budgets=True,
        approval_required=True,
        resources=_LARGE,
    ),
}

DEFAULT_ALLOWED = (Operation.READ, Operation.ANALYZE, Operation.SEARCH)
DEFAULT_SHARDS = 3
DEFAULT_REPLICAS_PER_SHARD = 1


@dataclass(frozen=True)
class AutoscalingSettings:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization_percent: int


@dataclass(frozen=True)
class PolicySettings:
    allowed: tuple[Operation, ...]
    forbidden: tuple[Operation, ...]
    tool_operations: dict[str, Operation]


@dataclass(frozen=True)
class RedisSettings:
    mode: RedisMode
    image: str
    shards: int
    replicas_per_shard: int
    persistence: bool
    storage_size: str
    storage_class_name: str | None
    retain_on_delete: bool
    max_memory: str
    resources: dict[str, dict[str, str]]

    @property
    def pods(self) -> int:
        if self.mode is RedisMode.STANDALONE:
            return 1
        return self.shards * (1 + self.replicas_per_shard)


@dataclass(frozen=True)
class Settings:
    """Every setting of an instance, with the profile applied: what the renderer reads."""

    environment: Environment
    image: str
    read_only_root_filesystem: bool
    allow_dynamic_config: bool
    allow_code_modification: bool
    log_level: LogLevel
    log_format: LogFormat
    disruption_budgets: bool
    approval_required: bool
    apply_first_creation: bool
    api_replicas: int
    api_port: int
    api_resources: dict[str, dict[str, str]]
    autoscaling: AutoscalingSettings | None
    workers: int
    wall_bounce: models.WallBounce
    worker_resources: dict[str, dict[str, str]]
    mcp_mode: McpProxyMode
    mcp_replicas: int
    mcp_image: str
    mcp_port: int
    mcp_upstreams: tuple[models.McpUpstream, ...]
    mcp_resources: dict[str, dict[str, str]]
    policy: PolicySettings
    redis: RedisSettings
    llm_gateway: models.LlmGateway


def _merge_resources(
    default: dict[str, dict[str, str]], override: models.Resources | None
) -> dict[str, dict[str, str]]:
    """The profile's requests and limits, with each value the spec sets put over them."""
    merged = {section: dict(values) for section, values in default.items()}
    for section in ("requests", "limits"):
        values = getattr(override, section, None)
        if values is not None:
            for name, value in values.model_dump(exclude_none=True).items():
                merged[section][name.replace("_", "-")] = value  # ephemeral_storage -> ephemeral-storage
    return merged


def _policy(spec: models.TechSapoSpec) -> PolicySettings:
    policy = spec.mcp_proxy.policy
    forbidden = list(policy.forbidden_operations or SELF_MODIFYING_OPERATIONS)
    if spec.environment is not DEV:
        forbidden += [op for op in SELF_MODIFYING_OPERATIONS if op not in forbidden]
    allowed = policy.allowed_operations if policy.allowed_operations is not None else DEFAULT_ALLOWED
    return PolicySettings(
        allowed=tuple(op for op in Operation if op in allowed and op not in forbidden),
        forbidden=tuple(op for op in Operation if op in forbidden),
        tool_operations=dict(sorted(policy.tool_operations.items())),
    )


def _redis(spec: models.TechSapoSpec, profile: Profile) -> RedisSettings:
    redis = spec.redis
    return RedisSettings(
        mode=redis.mode or profile.redis_mode,
        image=redis.image,
        shards=redis.shards or DEFAULT_SHARDS,
        replicas_per_shard=(
            redis.replicas_per_shard if redis.replicas_per_shard is not None else DEFAULT_REPLICAS_PER_SHARD
        ),
        persistence=_pick(redis.persistence, profile.redis_persistence),
        storage_size=redis.storage.size,
        storage_class_name=redis.storage.storage_class_name,
        retain_on_delete=_pick(redis.storage.retain_on_delete, profile.retain_redis_volumes),
        max_memory=redis.max_memory,
        resources=_merge_resources(profile.resources["redis"], redis.resources),
    )


def _autoscaling(spec: models.TechSapoSpec, profile: Profile) -> AutoscalingSettings | None:
    requested = spec.api_server.autoscaling
    # Writing an autoscaling block means "on" unless it says otherwise.
    enabled = profile.autoscaling if requested is None else _pick(requested.enabled, True)
    if not enabled:
        return None
    minimum = requested.min_replicas if requested and requested.min_replicas else profile.autoscaling_min
    maximum = requested.max_replicas if requested and requested.max_replicas else max(10, minimum)
    target = requested.target_cpu_utilization_percent if requested else 70
    return AutoscalingSettings(
        min_replicas=minimum, max_replicas=maximum, target_cpu_utilization_percent=target
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


def resolve(spec: models.TechSapoSpec) -> Settings:
    """Apply the environment's profile to a validated spec."""
    profile = PROFILES[spec.environment]
    self_modification = profile.allow_self_modification
    return Settings(
        environment=spec.environment,
        image=spec.image,
        read_only_root_filesystem=_pick(
            spec.security.read_only_root_filesystem, profile.read_only_root_filesystem
        ),
        allow_dynamic_config=_pick(spec.security.allow_dynamic_config, self_modification),
        allow_code_modification=_pick(spec.security.allow_code_modification, self_modification),
        log_level=spec.logging.level or profile.log_level,
        log_format=spec.logging.format,
        disruption_budgets=profile.disruption_budgets,
        approval_required=_pick(spec.approval.required, profile.approval_required),
        apply_first_creation=spec.approval.apply_first_creation,
        api_replicas=_pick(spec.api_server.replicas, profile.api_replicas),
        api_port=spec.api_server.port,
        api_resources=_merge_resources(profile.resources["api-server"], spec.api_server.resources),
        autoscaling=_autoscaling(spec, profile),
        workers=_pick(spec.wall_bounce.workers, profile.workers),
        wall_bounce=spec.wall_bounce,
        worker_resources=_merge_resources(profile.resources["wall-bounce"], spec.wall_bounce.resources),
        mcp_mode=spec.mcp_proxy.mode or profile.mcp_mode,
        mcp_replicas=_pick(spec.mcp_proxy.replicas, profile.mcp_replicas),
        mcp_image=spec.mcp_proxy.image or OPERATOR_IMAGE,
        mcp_port=spec.mcp_proxy.port,
        mcp_upstreams=tuple(spec.mcp_proxy.upstreams),
        mcp_resources=_merge_resources(profile.resources["mcp-proxy"], spec.mcp_proxy.resources),
        policy=_policy(spec),
        redis=_redis(spec, profile),
        llm_gateway=spec.llm_gateway,
    )
