"""The operations policy as the gateway reads and applies it."""

from __future__ import annotations

import pathlib

import pytest

from techsapo_operator import policies
from techsapo_operator.vocabulary import Operation

GOOD = {
    "allowed_operations": "read,analyze,search",
    "forbidden_operations": "write,execute,modify",
    "tool_operations": '{"grep": "search"}',
}


def policy(**changes: str) -> policies.Policy:
    return policies.parse({**GOOD, **changes}, source="test")


def test_the_briefs_policy_parses() -> None:
    parsed = policy()
    assert parsed.allowed == {Operation.READ, Operation.ANALYZE, Operation.SEARCH}
    assert parsed.forbidden == {Operation.WRITE, Operation.EXECUTE, Operation.MODIFY}
    assert parsed.tool_operations == {"grep": Operation.SEARCH}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allowed_operations": "read,teleport"}, "allowed_operations: unknown operation teleport"),
        ({"allowed_operations": "read,write"}, "write both allowed and forbidden"),
        ({"tool_operations": "{not json"}, "tool_operations: not JSON"),
        ({"tool_operations": '{"grep": "fly"}'}, "tool_operations.grep: unknown operation fly"),
        ({"tool_operations": '["grep"]'}, "must be a JSON object"),
    ],
)
def test_an_unenforceable_policy_is_refused_naming_the_key(changes: dict[str, str], message: str) -> None:
    with pytest.raises(policies.PolicyError, match=message):
        policy(**changes)


def test_a_missing_key_is_refused() -> None:
    with pytest.raises(policies.PolicyError, match="missing forbidden_operations"):
        policies.parse({"allowed_operations": "read"}, source="test")


@pytest.mark.parametrize(
    ("tool", "annotations", "operation", "allowed", "rule"),
    [
        ("grep", None, "search", True, "allowed_operations"),  # the policy's own map wins
        ("cat", {"readOnlyHint": True}, "read", True, "allowed_operations"),
        ("rm", {"readOnlyHint": False, "destructiveHint": True}, "modify", False, "forbidden_operations"),
        ("append", {"readOnlyHint": False, "destructiveHint": False}, "write", False, "forbidden_operations"),
        ("anything", {}, "modify", False, "forbidden_operations"),  # MCP's defaults: destructive
        ("mystery", None, "unknown", False, "unknown-operation"),
    ],
)
def test_judging_a_tool_call(
    tool: str, annotations: dict[str, bool] | None, operation: str, allowed: bool, rule: str
) -> None:
    verdict = policies.judge(policy(), tool, annotations)
    assert (verdict.operation, verdict.allowed, verdict.rule) == (operation, allowed, rule)


def test_not_allowed_is_denied_even_when_not_forbidden() -> None:
    verdict = policies.judge(policy(allowed_operations="read", forbidden_operations=""), "grep", None)
    assert (verdict.allowed, verdict.rule) == (False, "allowed_operations")


def test_reads_a_mounted_folder_and_a_configmap_file(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "mounted"
    folder.mkdir()
    for key, value in GOOD.items():
        (folder / key).write_text(value)
    assert policies.read(folder) == GOOD
    configmap = tmp_path / "configmap.yaml"
    configmap.write_text(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  allowed_operations: read\n  forbidden_operations: write\n"
    )
    assert policies.read(configmap) == {"allowed_operations": "read", "forbidden_operations": "write"}
