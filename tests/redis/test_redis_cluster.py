"""The rendered Redis Cluster on real redis-server processes: the operator's exact redis.conf and
the exact bootstrap script its Job runs, on loopback ports."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from techsapo_operator import rendering
from tests import examples

REDIS_SERVER = shutil.which("redis-server")


def cluster_ports(count: int) -> list[int]:
    """Free loopback ports whose cluster-bus port (port + 10000) is free too, below Redis' limit."""
    ports: list[int] = []
    for candidate in range(30000 + os.getpid() % 5000, 45000):
        with socket.socket() as client_port, socket.socket() as bus_port:
            try:
                client_port.bind(("127.0.0.1", candidate))
                bus_port.bind(("127.0.0.1", candidate + 10000))
            except OSError:
                continue
        ports.append(candidate)
        if len(ports) == count:
            return ports
    raise AssertionError("no free ports for a Redis Cluster")


def by_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [child for child in children if child["kind"] == kind]


def cli(port: int, *arguments: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *arguments], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 0, f"redis-cli {' '.join(arguments)}: {result.stdout}{result.stderr}"
    return result.stdout


def roles(port: int) -> list[str]:
    return sorted(
        line.split()[2].removeprefix("myself,") for line in cli(port, "cluster", "nodes").splitlines()
    )


def settled(check: Any, what: str, timeout: float = 15) -> None:
    """Gossip takes a moment to reach every node: wait, with a bound."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def production() -> list[dict[str, Any]]:
    return rendering.render(examples.techsapo("production"))


@pytest.fixture
def nodes(production: list[dict[str, Any]], tmp_path: pathlib.Path) -> Iterator[list[int]]:
    assert REDIS_SERVER, "redis-server is not installed; `make test` installs Debian's"
    conf = next(c for c in by_kind(production, "ConfigMap") if "redis.conf" in c["data"])["data"][
        "redis.conf"
    ]
    (tmp_path / "redis.conf").write_text(conf)
    count = by_kind(production, "StatefulSet")[0]["spec"]["replicas"]
    ports, processes = cluster_ports(count), []
    for port in ports:
        data = tmp_path / str(port)
        data.mkdir()
        # Only what differs between pods and this machine: port, address, announced name, data folder
        # (a pod gets the same flags from the StatefulSet's args).
        processes.append(
            subprocess.Popen(
                [
                    REDIS_SERVER,
                    str(tmp_path / "redis.conf"),
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(data),
                    "--cluster-announce-hostname",
                    "127.0.0.1",
                ],
                stdout=(tmp_path / f"{port}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    try:
        deadline = time.monotonic() + 30
        for port in ports:
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
                ).stdout.strip()
                != "PONG"
            ):
                assert time.monotonic() < deadline, (tmp_path / f"{port}.log").read_text()
                time.sleep(0.1)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def bootstrap(production: list[dict[str, Any]], ports: list[int]) -> subprocess.CompletedProcess[str]:
    """The Job's own script and settings, with the pods' addresses replaced by the loopback ones."""
    container = by_kind(production, "Job")[0]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert len(env["REDIS_NODES"].split()) == len(ports)
    env["REDIS_NODES"] = " ".join(f"127.0.0.1:{port}" for port in ports)
    env["REDIS_WAIT_SECONDS"] = "30"
    return subprocess.run(
        container["args"], env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=120
    )


def info(port: int) -> dict[str, str]:
    return dict(line.split(":", 1) for line in cli(port, "cluster", "info").split() if ":" in line)


def test_the_bootstrap_script_forms_the_cluster_with_every_slot_covered(
    production: list[dict[str, Any]], nodes: list[int]
) -> None:
    formed = bootstrap(production, nodes)
    assert formed.returncode == 0, formed.stdout + formed.stderr
    state = info(nodes[0])
    assert state["cluster_state"] == "ok"
    assert state["cluster_slots_assigned"] == "16384"
    assert (state["cluster_known_nodes"], state["cluster_size"]) == ("6", "3")
    settled(lambda: roles(nodes[0]) == ["master"] * 3 + ["slave"] * 3, "3 primaries with a replica each")


def test_running_the_bootstrap_again_changes_nothing(
    production: list[dict[str, Any]], nodes: list[int]
) -> None:
    assert bootstrap(production, nodes).returncode == 0
    before = sorted(
        line.split()[0] + line.split()[2] for line in cli(nodes[0], "cluster", "nodes").splitlines()
    )
    again = bootstrap(production, nodes)
    assert again.returncode == 0
    assert "already formed; nothing to do" in again.stdout
    after = sorted(
        line.split()[0] + line.split()[2] for line in cli(nodes[0], "cluster", "nodes").splitlines()
    )
    assert after == before


def test_keys_are_served_across_the_cluster(production: list[dict[str, Any]], nodes: list[int]) -> None:
    assert bootstrap(production, nodes).returncode == 0
    for key in ("analysis:1", "analysis:2", "queue:wall-bounce"):
        assert cli(nodes[0], "-c", "set", key, "v").strip() == "OK"
        assert cli(nodes[-1], "-c", "get", key).strip() == "v"


def test_the_disabled_commands_are_refused(nodes: list[int]) -> None:
    for command in (
        ["flushall"],
        ["flushdb"],
        ["config", "get", "dir"],
        ["debug", "sleep", "0"],
        ["eval", "return 1", "0"],
        ["shutdown"],
    ):
        answer = cli(nodes[0], *command)
        assert "unknown command" in answer, (command, answer)
