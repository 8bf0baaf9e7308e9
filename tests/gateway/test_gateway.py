"""The MCP gateway between the official MCP SDK's own client and server: the operations policy on
every tool call, the refused calls never reaching the server, and the policy read live from disk."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.gateway.peers import POLICY, Peers, write_policy

T = TypeVar("T")


def run(peers_url: str, work: Callable[[Client], Awaitable[T]]) -> T:
    async def session() -> T:
        async with Client(peers_url) as client:
            return await work(client)

    return asyncio.run(session())


async def tool_names(client: Client) -> list[str]:
    return sorted(tool.name for tool in (await client.list_tools()).tools)


async def call(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result
    return "".join(getattr(part, "text", "") for part in result.content)


def refusal(client_call: Callable[[Client], Awaitable[Any]], url: str) -> str:
    """The error the client got for a refused call (caught in the session, where the SDK raises it)."""

    async def refused(client: Client) -> str:
        try:
            await client_call(client)
        except MCPError as error:
            return str(error)
        raise AssertionError("the call was not refused")

    return run(url, refused)


def test_allowed_tools_work_end_to_end_with_their_results_intact(peers: Peers) -> None:
    async def work(client: Client) -> tuple[str, str]:
        await client.list_tools()
        return await call(client, "read_file", {"path": "README.md"}), await call(
            client, "search_code", {"query": "eval"}
        )

    assert run(peers.gateway_url, work) == ("contents of README.md", "3 matches for eval")
    assert peers.received() == ["read_file", "search_code"]


def test_the_list_hides_what_the_policy_refuses(peers: Peers) -> None:
    assert run(peers.upstream_url, tool_names) == ["mystery", "read_file", "search_code", "write_file"]
    assert run(peers.gateway_url, tool_names) == ["read_file", "search_code"]


def test_a_forbidden_tool_is_refused_and_never_reaches_the_server(peers: Peers) -> None:
    async def write(client: Client) -> Any:
        await client.list_tools()
        return await client.call_tool("write_file", {"path": "/app/main.js", "text": "eval(x)"})

    message = refusal(write, peers.gateway_url)
    assert "refused by the operations policy" in message
    assert "write_file performs modify, which forbidden_operations lists" in message
    assert "write_file" not in peers.received()


def test_an_unknown_tool_is_refused(peers: Peers) -> None:
    async def mystery(client: Client) -> Any:
        await client.list_tools()
        return await client.call_tool("mystery", {"value": "x"})

    assert "mystery has no known operation" in refusal(mystery, peers.gateway_url)

    assert "mystery" not in peers.received()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_policy_change_on_disk_takes_effect_without_a_restart(peers: Peers) -> None:
    write_policy(peers.policy, {**POLICY, "allowed_operations": "read,analyze"})
    wait_for(lambda: run(peers.gateway_url, tool_names) == ["read_file"], "search to be refused")

    async def search(client: Client) -> Any:
        await client.list_tools()
        return await client.call_tool("search_code", {"query": "x"})

    assert "search_code performs search, which allowed_operations does not list" in refusal(
        search, peers.gateway_url
    )


def test_a_malformed_policy_keeps_the_last_good_one_and_says_so(peers: Peers) -> None:
    write_policy(peers.policy, {**POLICY, "allowed_operations": "read,teleport"})
    wait_for(lambda: "POLICY REJECTED" in peers.gateway_log.read_text(), "the rejection to be logged")
    assert "unknown operation teleport" in peers.gateway_log.read_text()
    assert run(peers.gateway_url, tool_names) == ["read_file", "search_code"]


def test_every_decision_is_audited_and_counted(peers: Peers) -> None:
    async def work(client: Client) -> None:
        await client.list_tools()
        await call(client, "read_file", {"path": "a"})
        try:
            await client.call_tool("write_file", {"path": "a", "text": "b"})
        except MCPError:
            return
        raise AssertionError("write_file was not refused")

    run(peers.gateway_url, work)
    audits = [
        json.loads(line[line.index("{") :])
        for line in peers.gateway_log.read_text().splitlines()
        if "techsapo.audit" in line
    ]
    assert [(a["tool"], a["decision"], a["rule"]) for a in audits] == [
        ("read_file", "allowed", "allowed_operations"),
        ("write_file", "denied", "forbidden_operations"),
    ]
    with urllib.request.urlopen(f"http://127.0.0.1:{peers.gateway_port}/metrics") as answer:
        metrics = answer.read().decode()
    assert (
        'techsapo_gateway_calls_total{decision="denied",operation="modify",upstream="tools"} 1.0' in metrics
    )
    assert 'techsapo_gateway_calls_total{decision="allowed",operation="read",upstream="tools"} 1.0' in metrics


def post(port: int, path: str, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method="POST",
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_broken_upstream_gives_an_error_not_a_hang(peers: Peers) -> None:
    peers.stop_upstream()
    started = time.monotonic()
    status, answer = post(peers.gateway_port, "/mcp/tools", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert status == 502
    assert "upstream MCP server tools is not reachable" in answer["error"]["message"]
    assert time.monotonic() - started < 10


def test_an_unknown_upstream_is_a_clear_404(peers: Peers) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{peers.gateway_port}/mcp/nowhere",
        method="POST",
        data=b"{}",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=5)
    assert missing.value.code == 404
    assert "no upstream MCP server named nowhere; known: tools" in missing.value.read().decode()


def test_an_oversized_body_is_refused(peers: Peers) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{peers.gateway_port}/mcp/tools",
        method="POST",
        data=b"x" * (2 << 20),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413
