"""The closed vocabularies of the TechSapo API: environments, operations, modes and levels."""

from __future__ import annotations

import enum


class Environment(enum.StrEnum):
    """Where an instance runs; it decides the profile of defaults and rules."""

    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"


class Operation(enum.StrEnum):
    """The operations an MCP tool call can perform, as the operations policy names them."""

    READ = "read"
    ANALYZE = "analyze"
    SEARCH = "search"
    WRITE = "write"
    EXECUTE = "execute"
    MODIFY = "modify"


# What a system that must never rewrite itself can never allow.
SELF_MODIFYING_OPERATIONS = (Operation.WRITE, Operation.EXECUTE, Operation.MODIFY)


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class LogFormat(enum.StrEnum):
    JSON = "json"
    TEXT = "text"


class McpProxyMode(enum.StrEnum):
    """How the application reaches its MCP servers."""

    SIDECAR = "sidecar"
    ISOLATED = "isolated"


class RedisMode(enum.StrEnum):
    STANDALONE = "standalone"
    CLUSTER = "cluster"
