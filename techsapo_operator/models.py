"""The TechSapo API: pydantic models that are the single source of truth for the CRD.

Every field's docstring becomes its description in the generated CRD (`kubectl explain`).
Python names are snake_case, the wire is camelCase; unknown fields are errors, not silence.
A field left unset (``None``) takes the default of the instance's environment profile
(see ``profiles``), so the same manifest means the right thing in dev, staging and production.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

import pydantic
from pydantic import alias_generators

from techsapo_operator import profiles, rules
from techsapo_operator.vocabulary import (
    SELF_MODIFYING_OPERATIONS,
    Environment,
    LogFormat,
    LogLevel,
    McpProxyMode,
    Operation,
    RedisMode,
)

GROUP = "techsapo.io"
VERSION = "v1alpha1"
KIND = "TechSapo"
PLURAL = "techsapos"
SINGULAR = "techsapo"
SHORT_NAMES = ("tsp",)
CATEGORIES = ("techsapo", "all")
API_VERSION = f"{GROUP}/{VERSION}"

# The resource.Quantity grammar the API server itself uses.
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
# An image reference: a registry host with an optional port, a path, an optional tag and digest.
IMAGE_PATTERN = (
    r"^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)
DIGEST_AT_END = "@sha256:[a-f0-9]{64}$"
TAG_AT_END = ":[A-Za-z0-9_][A-Za-z0-9._-]*$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _image_is_pinned(image: str) -> bool:
    """An explicit tag other than latest, or a digest: what production runs."""
    if re.search(DIGEST_AT_END, image):
        return True
    return bool(re.search(TAG_AT_END, image)) and not image.endswith(":latest")


def _pinned_image_rule(path: str) -> rules.Rule:
    parts = path.split(".")
    guards = "".join(f"!has(self.{'.'.join(parts[: i + 1])}) || " for i in range(len(parts)))
    field = f"self.{path}"
    return rules.Rule(
        cel=(
            f"self.environment != 'production' || {guards}{field}.matches('{DIGEST_AT_END}') || "
            f"({field}.matches('{TAG_AT_END}') && !{field}.endsWith(':latest'))"
        ),
        message="production needs a tag other than latest, or a digest: image:1.2.3 or image@sha256:<hash>",
        holds=lambda spec: (
            spec.environment != Environment.PRODUCTION
            or (value := rules.get(spec, parts)) is None
            or _image_is_pinned(value)
        ),
        field=f".{path}",
    )


def _unchanged(field: str, default: int) -> str:
    """CEL: the field, or its default where unset, is the same as before."""
    now, before = f"self.{field}", f"oldSelf.{field}"
    return f"(has({now}) ? {now} : {default}) == (has({before}) ? {before} : {default})"


NETWORK_PEER_RULES = (
    rules.Rule(
        cel="has(self.cidr) != (has(self.namespaceLabels) || has(self.podLabels))",
        message="set either cidr, or namespaceLabels and podLabels (one or both), but not both kinds",
        holds=lambda peer: (
            (peer.cidr is not None) != (peer.namespace_labels is not None or peer.pod_labels is not None)
        ),
    ),
)
AUTOSCALING_RULES = (
    rules.Rule(
        cel="!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
        message="cannot be larger than maxReplicas",
        holds=lambda scaling: (
            scaling.min_replicas is None
            or scaling.max_replicas is None
            or scaling.min_replicas <= scaling.max_replicas
        ),
        field=".minReplicas",
    ),
)
POLICY_RULES = (
    rules.Rule(
        cel="!has(self.allowedOperations) || !has(self.forbiddenOperations) || "
        "self.allowedOperations.all(op, !(op in self.forbiddenOperations))",
        message="an operation cannot be both allowed and forbidden; remove it from one of the two lists",
        holds=lambda policy: (
            not set(policy.allowed_operations or ()) & set(policy.forbidden_operations or ())
        ),
        field=".allowedOperations",
    ),
)
REDIS_RULES = (
    rules.Rule(
        cel=_unchanged("shards", profiles.DEFAULT_SHARDS)
        + " && "
        + _unchanged("replicasPerShard", profiles.DEFAULT_REPLICAS_PER_SHARD),
        message="cannot change once the instance exists: resharding moves keys, which the operator does "
        "not do yet; create a new instance and migrate the data to it",
        holds=None,  # only the API server sees the old object
        field=".shards",
        reason="FieldValueForbidden",
    ),
    rules.Rule(
        cel="!has(self.mode) || self.mode != 'cluster' || !has(self.shards) || self.shards >= 3",
        message="a Redis Cluster needs at least 3 shards",
        holds=lambda redis: redis.mode != RedisMode.CLUSTER or redis.shards is None or redis.shards >= 3,
        field=".shards",
    ),
)
_SELF_MODIFYING_CEL = str([op.value for op in SELF_MODIFYING_OPERATIONS])
SPEC_RULES = (
    rules.Rule(
        cel="self.environment == oldSelf.environment",
        message="cannot change after creation; create a new TechSapo for the other environment",
        holds=None,  # only the API server sees the old object
        field=".environment",
        reason="FieldValueInvalid",
    ),
    rules.Rule(
        cel="self.environment == 'dev' || !has(self.mcpProxy) || !has(self.mcpProxy.policy) || "
        "!has(self.mcpProxy.policy.allowedOperations) || "
        f"self.mcpProxy.policy.allowedOperations.all(op, !(op in {_SELF_MODIFYING_CEL}))",
        message="staging and production never allow write, execute or modify; remove them",
        holds=lambda spec: (
            spec.environment == Environment.DEV
            or not set(spec.mcp_proxy.policy.allowed_operations or ()) & set(SELF_MODIFYING_OPERATIONS)
        ),
        field=".mcpProxy.policy.allowedOperations",
    ),
    _pinned_image_rule("image"),
    _pinned_image_rule("mcpProxy.image"),
    _pinned_image_rule("redis.image"),
    *profiles.PINS,
)


class Model(pydantic.BaseModel):
    """Common configuration: camelCase on the wire, docstrings as descriptions, no unknown fields."""

    model_config = pydantic.ConfigDict(
        alias_generator=alias_generators.to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


def _quantity_to_string(value: Any) -> Any:
    # YAML users write `cpu: 1`; the API server accepts both forms, so do we.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


Quantity = Annotated[
    str,
    pydantic.BeforeValidator(_quantity_to_string),
    pydantic.StringConstraints(pattern=QUANTITY_PATTERN),
    # The only anyOf a structural schema allows: int-or-string, as resource.Quantity is in Kubernetes.
    pydantic.WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
        }
    ),
]
Image = Annotated[str, pydantic.StringConstraints(pattern=IMAGE_PATTERN, max_length=512)]


class ResourceList(Model):
    cpu: Quantity | None = None
    """CPU, in cores or millicores (for example 500m)."""
    memory: Quantity | None = None
    """Memory, in bytes with a suffix (for example 512Mi)."""
    ephemeral_storage: Quantity | None = None
    """Local ephemeral storage, the emptyDir scratch space included."""


class Resources(Model):
    """Compute requests and limits of a container; unset values take the profile's."""

    requests: ResourceList | None = None
    """What the scheduler reserves for the container."""
    limits: ResourceList | None = None
    """What the container may use at most."""


class NetworkPeer(Model):
    """Where traffic may go, for a NetworkPolicy: an address block, or pods by labels."""

    model_config = pydantic.ConfigDict(json_schema_extra=rules.validations(NETWORK_PEER_RULES))

    cidr: str | None = pydantic.Field(default=None, max_length=64)
    """An address block in CIDR notation, for a peer outside the cluster."""
    namespace_labels: dict[str, str] | None = None
    """Labels of the namespaces the peer runs in (with podLabels, or alone for every pod there)."""
    pod_labels: dict[str, str] | None = None
    """Labels of the peer's pods (in the instance's namespace unless namespaceLabels is set)."""

    @pydantic.model_validator(mode="after")
    def _check_rules(self) -> NetworkPeer:
        rules.check(NETWORK_PEER_RULES, self)
        return self


class Autoscaling(Model):
    """A HorizontalPodAutoscaler on CPU for the API server."""

    model_config = pydantic.ConfigDict(json_schema_extra=rules.validations(AUTOSCALING_RULES))

    enabled: bool | None = None
    """Scale on CPU (profile: on in production, off elsewhere); writing this block without it means on."""
    min_replicas: int | None = pydantic.Field(default=None, ge=1, le=1000)
    """Fewest API server replicas (profile: staging 2, production 3)."""
    max_replicas: int | None = pydantic.Field(default=None, ge=1, le=1000)
    """Most API server replicas (default: 10, or minReplicas if larger)."""
    target_cpu_utilization_percent: int = pydantic.Field(default=70, ge=1, le=100)
    """Average CPU use, as a percent of the request, that the autoscaler aims for."""

    @pydantic.model_validator(mode="after")
    def _check_rules(self) -> Autoscaling:
        rules.check(AUTOSCALING_RULES, self)
        return self


class ApiServer(Model):
    """The HTTP API server: stateless and CPU-bound, so it scales horizontally."""

    replicas: int | None = pydantic.Field(default=None, ge=0, le=1000)
    """Replicas when autoscaling is off (profile: dev 1, staging 2, production 3)."""
    port: int = pydantic.Field(default=8080, ge=1024, le=65535)
    """The port the server listens on; unprivileged, since the pods run as non-root."""
    resources: Resources | None = None
    """Requests and limits of the API server container."""
    autoscaling: Autoscaling | None = None
    """Scale on CPU between bounds (profile: on in production, off elsewhere)."""


class Queue(Model):
    """The Redis-backed queue that feeds the Wall-Bounce workers."""

    name: str = pydantic.Field(default="wall-bounce", pattern=DNS_LABEL_PATTERN, max_length=63)
    """The queue's key prefix in Redis."""
    max_length: int = pydantic.Field(default=10000, ge=1, le=10_000_000)
    """Jobs the queue holds before it refuses new ones."""
    visibility_timeout_seconds: int = pydantic.Field(default=300, ge=10, le=86400)
    """Seconds a taken job stays hidden before another worker may retry it."""
    max_attempts: int = pydantic.Field(default=3, ge=1, le=20)
    """Tries of one job before it goes to the dead-letter list."""


class WallBounce(Model):
    """The Wall-Bounce analysis engine: workers that bounce a question between LLMs (memory-bound)."""

    workers: int | None = pydantic.Field(default=None, ge=0, le=1000)
    """Worker replicas (profile: dev 1, staging 2, production 4)."""
    concurrency: int = pydantic.Field(default=2, ge=1, le=64)
    """Jobs each worker runs at once."""
    llm_providers: list[
        Annotated[str, pydantic.StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
    ] = pydantic.Field(default_factory=lambda: ["openai", "anthropic", "google"], min_length=1, max_length=16)
    """The LLM providers an analysis bounces between, through the LLM gateway."""
    queue: Queue = pydantic.Field(default_factory=Queue)
    """The job queue."""
    resources: Resources | None = None
    """Requests and limits of a worker container."""


class McpUpstream(Model):
    """An MCP tool server the proxy forwards to."""

    name: str = pydantic.Field(pattern=DNS_LABEL_PATTERN, max_length=63)
    """A short name; tools are addressed by it."""
    url: str = pydantic.Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2048)
    """The server's Streamable HTTP endpoint."""
    network_peers: list[NetworkPeer] = pydantic.Field(default_factory=list, max_length=16)
    """Where the server runs, for the proxy's egress NetworkPolicy; empty means pods in this namespace
    labelled app.kubernetes.io/name=<name>."""


class McpPolicy(Model):
    """The operations policy that the MCP proxy enforces on every tool call.

    Anything not allowed is denied. Staging and production always forbid write, execute and modify.
    """

    model_config = pydantic.ConfigDict(json_schema_extra=rules.validations(POLICY_RULES))

    allowed_operations: list[Operation] | None = pydantic.Field(
        default=None, max_length=6, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Operations tools may perform (profile: read, analyze, search)."""
    forbidden_operations: list[Operation] | None = pydantic.Field(
        default=None, max_length=6, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Operations no tool may perform (profile: write, execute, modify)."""
    tool_operations: dict[str, Operation] = pydantic.Field(default_factory=dict, max_length=256)
    """The operation of each tool by name, which overrides the tool's own MCP annotations."""

    @pydantic.field_validator("allowed_operations", "forbidden_operations")
    @classmethod
    def _no_repeats(cls, operations: list[Operation] | None) -> list[Operation] | None:
        if operations is not None and len(set(operations)) != len(operations):
            raise ValueError("each operation may appear once")
        return operations

    @pydantic.model_validator(mode="after")
    def _check_rules(self) -> McpPolicy:
        rules.check(POLICY_RULES, self)
        return self


class McpProxy(Model):
    """The MCP proxy: the only way from the application to MCP tool servers (network-bound)."""

    mode: McpProxyMode | None = None
    """sidecar (beside the app, dev only) or isolated (its own Deployment and network; profile:
    sidecar in dev, isolated in staging and production)."""
    replicas: int | None = pydantic.Field(default=None, ge=0, le=1000)
    """Replicas of the isolated proxy (profile: staging 2, production 3)."""
    image: Image | None = None
    """The proxy image; by default the operator's own image running its MCP gateway."""
    port: int = pydantic.Field(default=8090, ge=1024, le=65535)
    """The port the proxy listens on."""
    upstreams: list[McpUpstream] = pydantic.Field(default_factory=list, max_length=32)
    """The MCP servers behind the proxy."""
    policy: McpPolicy = pydantic.Field(default_factory=McpPolicy)
    """The operations policy, written to the instance's mcp-security-config ConfigMap."""
    resources: Resources | None = None
    """Requests and limits of the proxy container."""

    @pydantic.field_validator("upstreams")
    @classmethod
    def _unique_upstream_names(cls, upstreams: list[McpUpstream]) -> list[McpUpstream]:
        names = [upstream.name for upstream in upstreams]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"upstream names must be unique; repeated: {', '.join(duplicates)}")
        return upstreams


class RedisStorage(Model):
    """The persistent volume of each Redis pod."""

    size: Quantity = "1Gi"
    """The size of each volume."""
    storage_class_name: str | None = pydantic.Field(default=None, max_length=253)
    """The StorageClass; unset uses the cluster's default."""
    retain_on_delete: bool | None = None
    """Keep the volumes when the TechSapo is deleted (profile: true in production)."""


class Redis(Model):
    """Redis, the cache and the Wall-Bounce queue (memory-bound)."""

    model_config = pydantic.ConfigDict(json_schema_extra=rules.validations(REDIS_RULES))

    mode: RedisMode | None = None
    """standalone or cluster (profile: standalone in dev, cluster in staging and production)."""
    image: Image = "redis:7.4.2"
    """The Redis server image."""
    shards: int | None = pydantic.Field(default=None, ge=1, le=64)
    """Primary shards in cluster mode (profile: 3); a cluster needs at least 3."""
    replicas_per_shard: int | None = pydantic.Field(default=None, ge=0, le=5)
    """Replicas of each shard in cluster mode (profile: 1)."""
    persistence: bool | None = None
    """Append-only persistence on a volume (profile: off in dev, on elsewhere)."""
    storage: RedisStorage = pydantic.Field(default_factory=RedisStorage)
    """The volumes, when persistence is on."""
    max_memory: Quantity = "256Mi"
    """Redis' maxmemory; keys are evicted (allkeys-lru) past it."""
    resources: Resources | None = None
    """Requests and limits of a Redis container."""

    @pydantic.model_validator(mode="after")
    def _check_rules(self) -> Redis:
        rules.check(REDIS_RULES, self)
        return self


class LlmGateway(Model):
    """The gateway to external LLMs; the only way LLM traffic leaves the instance."""

    url: str = pydantic.Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2048)
    """The gateway's base URL."""
    network_peers: list[NetworkPeer] = pydantic.Field(default_factory=list, max_length=16)
    """Where the gateway runs, for the egress NetworkPolicy; empty means pods in this namespace
    labelled app.kubernetes.io/name=llm-gateway."""
    timeout_seconds: int = pydantic.Field(default=60, ge=1, le=600)
    """Seconds the application waits for one LLM answer."""


class Logging(Model):
    level: LogLevel | None = None
    """The application's log level (profile: DEBUG in dev, INFO elsewhere; never DEBUG in production)."""
    format: LogFormat = LogFormat.JSON
    """json for log collectors, text for people."""


class Security(Model):
    """What the application may do to itself; staging and production allow none of it."""

    read_only_root_filesystem: bool | None = None
    """Mount every container's root file system read-only (profile: false in dev, always true
    in staging and production)."""
    allow_dynamic_config: bool | None = None
    """Let the application change its own configuration at run time (profile: true in dev only)."""
    allow_code_modification: bool | None = None
    """Let the application change its own code at run time (profile: true in dev only)."""


class Approval(Model):
    """Whether a change of the children waits for an admin's approval (see docs: the approval flow)."""

    required: bool | None = None
    """Hold every change until an admin approves it (profile: always in production, never in dev,
    off in staging unless set here)."""
    apply_first_creation: bool = False
    """Apply the very first version of an instance without approval; later changes still wait."""


class TechSapoSpec(Model):
    """The desired TechSapo instance."""

    model_config = pydantic.ConfigDict(json_schema_extra=rules.validations(SPEC_RULES))

    environment: Environment
    """dev, staging or production: decides the profile of defaults and rules; cannot change."""
    image: Image
    """The TechSapo application image, run by the API server and the Wall-Bounce workers; in
    production it needs an explicit tag other than latest, or a digest."""
    api_server: ApiServer = pydantic.Field(default_factory=ApiServer)
    """The API server."""
    wall_bounce: WallBounce = pydantic.Field(default_factory=WallBounce)
    """The Wall-Bounce analysis workers."""
    mcp_proxy: McpProxy = pydantic.Field(default_factory=McpProxy)
    """The MCP proxy and its operations policy."""
    redis: Redis = pydantic.Field(default_factory=Redis)
    """Redis."""
    llm_gateway: LlmGateway
    """The LLM gateway."""
    logging: Logging = pydantic.Field(default_factory=Logging)
    """Application logging."""
    security: Security = pydantic.Field(default_factory=Security)
    """Self-modification switches and the read-only root file system."""
    approval: Approval = pydantic.Field(default_factory=Approval)
    """Admin approval of changes."""

    @pydantic.model_validator(mode="after")
    def _check_rules(self) -> TechSapoSpec:
        rules.check(SPEC_RULES, self)
        return self


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """An observation of one aspect of the instance, in the Kubernetes convention."""

    type: str = pydantic.Field(max_length=316)
    """The aspect observed, in CamelCase (Ready, Reconciling, Stalled, ...)."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str = pydantic.Field(max_length=1024)
    """A CamelCase word for why the status is what it is."""
    message: str = pydantic.Field(default="", max_length=32768)
    """A human-readable explanation."""
    last_transition_time: str
    """When the status last changed (RFC 3339)."""
    observed_generation: int = pydantic.Field(default=0, ge=0)
    """The metadata.generation this condition was computed from."""


class PendingChange(Model):
    """A change of the spec that waits for an admin."""

    generation: int = pydantic.Field(ge=0)
    """The metadata.generation that asks for it."""
    hash: str = pydantic.Field(max_length=64)
    """The hash of that spec; an approval names it."""
    summary: list[str] = pydantic.Field(default_factory=list, max_length=64)
    """What would change: children added or removed, and fields with their old and new values."""
    since: str
    """When the operator first saw it (RFC 3339)."""


class Decision(Model):
    """An admin's approval or denial of a pending change (written with kubectl techsapo approve/deny)."""

    hash: str = pydantic.Field(max_length=64)
    """The hash of the pending change decided on; a stale hash is refused."""
    user: str = pydantic.Field(max_length=512)
    """Who decided; the API server checks it is the requesting user."""
    time: str
    """When (RFC 3339)."""
    reason: str = pydantic.Field(default="", max_length=1024)
    """Why, for a denial."""


class Approved(Model):
    """The spec the running children were rendered from, as last approved (recorded by the operator)."""

    hash: str = pydantic.Field(max_length=64)
    """The hash of that spec."""
    generation: int = pydantic.Field(ge=0)
    """The metadata.generation it was at."""
    spec: dict[str, Any] = pydantic.Field(
        json_schema_extra={"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    """The approved spec itself, so the same children can be kept while a newer change waits."""
    approved_by: str = pydantic.Field(max_length=512)
    """Who approved it (or the setting that let it through)."""
    approved_at: str
    """When (RFC 3339)."""


class TechSapoStatus(Model):
    """What the operator last observed of the instance."""

    observed_generation: int | None = pydantic.Field(default=None, ge=0)
    """The metadata.generation the operator last acted on."""
    conditions: list[Condition] = pydantic.Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """The latest observations, one per type."""
    policy_hash: str | None = None
    """The hash of the operations policy in force."""
    pending_change: PendingChange | None = None
    """A change waiting for approval, if any."""
    approval: Decision | None = None
    """The last approval; only a holder of the approve verb on techsapos/approval may write it."""
    denial: Decision | None = None
    """The last denial; written like an approval."""
    approved: Approved | None = None
    """What is approved and running; only the operator records it."""


class ObjectMeta(Model):
    """The parts of metadata the renderer needs; the rest of metadata is ignored."""

    model_config = pydantic.ConfigDict(extra="ignore")

    name: str = pydantic.Field(pattern=DNS_LABEL_PATTERN, max_length=40)
    """The instance name; children are named after it, so it is kept short."""
    namespace: str = "default"
    uid: str = ""
    generation: int = 0
    labels: dict[str, str] = pydantic.Field(default_factory=dict)
    annotations: dict[str, str] = pydantic.Field(default_factory=dict)


class TechSapo(Model):
    """A TechSapo instance as read from the API server or a file."""

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: ObjectMeta
    spec: TechSapoSpec
    status: TechSapoStatus | None = None

    @pydantic.field_validator("api_version")
    @classmethod
    def _known_api_version(cls, value: str) -> str:
        if value != API_VERSION:
            raise ValueError(f"must be {API_VERSION}")
        return value

    @pydantic.field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value != KIND:
            raise ValueError(f"must be {KIND}")
        return value
