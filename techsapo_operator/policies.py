"""The operations policy as the MCP gateway enforces it: reading it, and judging one tool call.

The policy is the ``mcp-security-config`` ConfigMap: ``allowed_operations`` and
``forbidden_operations`` (comma-separated operations) and ``tool_operations`` (JSON, tool name to
operation). It is read from the mounted ConfigMap folder, or from one YAML file holding those keys
(or a whole ConfigMap). Anything not allowed is denied.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from techsapo_operator.vocabulary import Operation

KEYS = ("allowed_operations", "forbidden_operations", "tool_operations")
UNKNOWN = "unknown"


class PolicyError(ValueError):
    """A policy that cannot be enforced; the message names the key and the problem."""


@dataclass(frozen=True)
class Policy:
    allowed: frozenset[Operation] = frozenset()
    forbidden: frozenset[Operation] = frozenset()
    tool_operations: dict[str, Operation] = field(default_factory=dict)
    source: str = "no policy (everything is denied)"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    operation: str
    rule: str
    """What decided: allowed_operations, forbidden_operations, or unknown-operation."""
    reason: str


def _operations(text: str, key: str) -> frozenset[Operation]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return frozenset(Operation(name) for name in names)
    except ValueError:
        bad = [name for name in names if name not in {op.value for op in Operation}]
        known = ", ".join(op.value for op in Operation)
        raise PolicyError(
            f"{key}: unknown operation {', '.join(bad)}; known operations are {known}"
        ) from None


def parse(data: dict[str, Any], *, source: str) -> Policy:
    """A policy from the ConfigMap's data; raises PolicyError when it cannot be enforced."""
    missing = [key for key in ("allowed_operations", "forbidden_operations") if key not in data]
    if missing:
        raise PolicyError(f"missing {', '.join(missing)}")
    allowed = _operations(str(data["allowed_operations"]), "allowed_operations")
    forbidden = _operations(str(data["forbidden_operations"]), "forbidden_operations")
    both = sorted(op.value for op in allowed & forbidden)
    if both:
        raise PolicyError(f"{', '.join(both)} both allowed and forbidden")
    try:
        raw_tools = json.loads(data.get("tool_operations") or "{}")
    except json.JSONDecodeError as error:
        raise PolicyError(f"tool_operations: not JSON ({error})") from None
    if not isinstance(raw_tools, dict):
        raise PolicyError("tool_operations: must be a JSON object of tool name to operation")
    tools = {}
    for tool, operation in raw_tools.items():
        try:
            tools[str(tool)] = Operation(str(operation))
        except ValueError:
            raise PolicyError(f"tool_operations.{tool}: unknown operation {operation}") from None
    return Policy(allowed=allowed, forbidden=forbidden, tool_operations=tools, source=source)


def read(path: pathlib.Path) -> dict[str, Any]:
    """The policy's keys from a mounted ConfigMap folder or a YAML file; raises OSError or PolicyError."""
    if path.is_dir():
        return {key: (path / key).read_text() for key in KEYS if (path / key).is_file()}
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PolicyError(f"malformed YAML: {' '.join(str(error).split())}") from None
    if isinstance(loaded, dict) and loaded.get("kind") == "ConfigMap":
        loaded = loaded.get("data") or {}
    if not isinstance(loaded, dict):
        raise PolicyError("expected a mapping with allowed_operations and forbidden_operations")
    return loaded


def operation_of(policy: Policy, tool: str, annotations: dict[str, Any] | None) -> str:
    """The tool's operation: the policy's map first, then the tool's MCP annotations, else unknown."""
    if tool in policy.tool_operations:
        return policy.tool_operations[tool].value
    if annotations is None:
        return UNKNOWN
    if annotations.get("readOnlyHint") is True:
        return Operation.READ.value
    # MCP's defaults: a tool that is not read-only is destructive unless it says otherwise.
    return Operation.MODIFY.value if annotations.get("destructiveHint", True) else Operation.WRITE.value


def judge(policy: Policy, tool: str, annotations: dict[str, Any] | None) -> Verdict:
    operation = operation_of(policy, tool, annotations)
    if operation == UNKNOWN:
        return Verdict(
            False,
            operation,
            "unknown-operation",
            f"tool {tool} has no known operation: map it in tool_operations, or give it MCP "
            "annotations (listed by tools/list before the call)",
        )
    if Operation(operation) in policy.forbidden:
        return Verdict(
            False,
            operation,
            "forbidden_operations",
            f"tool {tool} performs {operation}, which forbidden_operations lists",
        )
    if Operation(operation) not in policy.allowed:
        return Verdict(
            False,
            operation,
            "allowed_operations",
            f"tool {tool} performs {operation}, which allowed_operations does not list",
        )
    return Verdict(
        True, operation, "allowed_operations", f"tool {tool} performs {operation}, which is allowed"
    )
