"""The operator as a real subprocess (`techsapo-operator run`), on loopback ports, for tests."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.integration import kube


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


WRITE_VERBS = ("apply", "patch-status", "create", "delete", "replace")


class OperatorProcess:
    """One operator process watching the given namespaces; its log goes to a file."""

    def __init__(
        self,
        kubeconfig: pathlib.Path,
        namespaces: list[str],
        log: pathlib.Path,
        *,
        resync_seconds: int = 300,
        extra_arguments: tuple[str, ...] = (),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.log = log
        self.resync_seconds = resync_seconds
        self.extra_arguments = extra_arguments
        self.process: subprocess.Popen[bytes] | None = None
        self.health_port = 0
        self.metrics_port = 0

    def start(self) -> OperatorProcess:
        self.health_port, self.metrics_port = free_port(), free_port()
        arguments = [
            sys.executable,
            "-m",
            "techsapo_operator",
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--health-address",
            f"127.0.0.1:{self.health_port}",
            "--metrics-address",
            f"127.0.0.1:{self.metrics_port}",
            "--resync-seconds",
            str(self.resync_seconds),
            "--log-format",
            "text",
        ]
        for namespace in self.namespaces:
            arguments += ["--namespace", namespace]
        arguments += self.extra_arguments
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                arguments, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
        kube.wait_for(self.healthy, what=f"the operator's /healthz (log: {self.log})", timeout=60)
        return self

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"the operator exited; log: {self.log}\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as answer:
            return str(answer.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include these."""
        text = self.metrics_text()
        total = 0.0
        for line in text.splitlines():
            match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
            if match is None:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if all(found.get(key) == value for key, value in labels.items()):
                total += float(match.group(2))
        return total

    def writes(self) -> float:
        """Writes to anything but the leader Lease (renewing it is what leader election costs)."""
        return sum(
            self.metric("techsapo_api_requests_total", verb=verb)
            - self.metric("techsapo_api_requests_total", verb=verb, resource="leases")
            for verb in WRITE_VERBS
        )

    def requests(self) -> float:
        """Every request to the API server but the leader Lease's, watches excluded (kopf makes those)."""
        return self.metric("techsapo_api_requests_total") - self.metric(
            "techsapo_api_requests_total", resource="leases"
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def wait_until_quiet(operator: OperatorProcess, *, settle: float = 2.0, timeout: float = 60) -> None:
    """Wait until the operator has written nothing for ``settle`` seconds (reads go on: the resync
    re-reads namespaces)."""
    deadline = time.monotonic() + timeout
    last = operator.writes()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = operator.writes()
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return
    raise AssertionError("the operator never went quiet")
