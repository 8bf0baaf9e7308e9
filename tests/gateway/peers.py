"""An upstream MCP server and the gateway in front of it, both real processes on loopback (for the
gateway tests and the gateway benchmark)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from tests.integration.operators import free_port

POLICY = {
    "allowed_operations": "read,analyze,search",
    "forbidden_operations": "write,execute,modify",
    "tool_operations": '{"search_code": "search"}',
}


def write_policy(folder: pathlib.Path, data: dict[str, str]) -> None:
    """Write the policy as a mounted ConfigMap folder looks, key by key."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in data.items():
        staged = folder / f".{key}.new"
        staged.write_text(value)
        staged.replace(folder / key)


def _wait_http(url: str, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} process exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered:\n{log.read_text()[-3000:]}")


@dataclass
class Peers:
    upstream_url: str
    gateway_url: str
    gateway_port: int
    policy: pathlib.Path
    calls: pathlib.Path
    gateway_log: pathlib.Path
    upstream_process: subprocess.Popen[bytes]

    def stop_upstream(self) -> None:
        self.upstream_process.terminate()
        self.upstream_process.wait(timeout=10)

    def received(self) -> list[str]:
        return self.calls.read_text().split() if self.calls.exists() else []


def _start(arguments: list[str], log: pathlib.Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            arguments, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )


@contextlib.contextmanager
def running(tmp_path: pathlib.Path) -> Iterator[Peers]:
    upstream_port, gateway_port = free_port(), free_port()
    calls, policy = tmp_path / "calls.log", tmp_path / "policy"
    write_policy(policy, POLICY)
    upstream = _start(
        [sys.executable, "-m", "tests.gateway.upstream", "--port", str(upstream_port), "--calls", str(calls)],
        tmp_path / "upstream.log",
    )
    upstream_url = f"http://127.0.0.1:{upstream_port}/mcp"
    gateway = _start(
        [
            sys.executable,
            "-m",
            "techsapo_operator",
            "gateway",
            "--policy",
            str(policy),
            "--upstream",
            f"tools={upstream_url}",
            "--listen",
            f"127.0.0.1:{gateway_port}",
        ],
        tmp_path / "gateway.log",
    )
    try:
        _wait_http(upstream_url, upstream, tmp_path / "upstream.log")
        _wait_http(f"http://127.0.0.1:{gateway_port}/healthz", gateway, tmp_path / "gateway.log")
        yield Peers(
            upstream_url,
            f"http://127.0.0.1:{gateway_port}/mcp/tools",
            gateway_port,
            policy,
            calls,
            tmp_path / "gateway.log",
            upstream,
        )
    finally:
        for process in (gateway, upstream):
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
