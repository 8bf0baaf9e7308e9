"""Start and stop a real local control plane: etcd, kube-apiserver, controller-manager, scheduler, kwok.

Everything binds to 127.0.0.1. State lives in ``.cluster/`` of the checkout (or
``$TECHSAPO_CLUSTER_DIR``): the kubeconfig, certificates, etcd data, logs, pid files, and
``bin/`` with links to the binaries it runs, so ``.cluster/bin/kubectl get nodes`` works.

    python -m controlplane.cluster up      # build or reuse the binaries, start, wait until ready
    python -m controlplane.cluster down    # stop exactly what ``up`` started, remove the state
    python -m controlplane.cluster status
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane import build

ROOT = build.HERE.parent
NODE_COUNT = 2
# In start order; stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class Ports:
    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 16443
    controller_manager: int = 20257
    scheduler: int = 20259
    kwok: int = 20260


class ClusterError(RuntimeError):
    """A step of bringing the cluster up failed; the message names the step and the log to read."""


@dataclass(frozen=True)
class Cluster:
    """A local control plane rooted at one state folder."""

    state: pathlib.Path
    ports: Ports = Ports()
    audit_policy: pathlib.Path | None = None
    """An audit policy file: the API server then logs requests to logs/audit.log (benchmarks count them)."""

    @classmethod
    def default(cls) -> Cluster:
        return cls(pathlib.Path(os.environ.get("TECHSAPO_CLUSTER_DIR", ROOT / ".cluster")))

    # Where things are.
    @property
    def kubeconfig(self) -> pathlib.Path:
        return self.state / "kubeconfig"

    @property
    def bin(self) -> pathlib.Path:
        return self.state / "bin"

    @property
    def logs(self) -> pathlib.Path:
        return self.state / "logs"

    @property
    def pki(self) -> pathlib.Path:
        return self.state / "pki"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def pid_file(self, component: str) -> pathlib.Path:
        return self.state / "pids" / f"{component}.pid"

    def kubectl(
        self, *arguments: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *arguments],
            check=check,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
        )

    # Processes.
    def running(self) -> dict[str, int]:
        """The components whose recorded process is still alive, with their pids."""
        alive = {}
        for pid_file in sorted((self.state / "pids").glob("*.pid")):
            pid = int(pid_file.read_text())
            if _is_our_process(pid, self.state):
                alive[pid_file.stem] = pid
        return alive

    def ready(self) -> bool:
        if not self.kubeconfig.is_file() or not (self.bin / "kubectl").exists():
            return False
        try:
            result = self.kubectl("get", "--raw", "/readyz", check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0 and result.stdout.strip() == "ok"

    def _start(self, component: str, binary: pathlib.Path, arguments: Sequence[str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pid_file(component).parent.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{component}.log").open("ab")
        process = subprocess.Popen(
            [str(binary), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.state,
        )
        log.close()
        self.pid_file(component).write_text(str(process.pid))
        print(
            f"  started {component} (pid {process.pid}), log: {self.logs / (component + '.log')}", flush=True
        )

    def stop_component(self, component: str, *, timeout: float = 20) -> bool:
        """Stop one component if it runs; returns whether it was running."""
        pid_file = self.pid_file(component)
        if not pid_file.is_file():
            return False
        pid = int(pid_file.read_text())
        was_running = _is_our_process(pid, self.state)
        if was_running:
            _terminate(pid, timeout=timeout)
        pid_file.unlink()
        return was_running

    # Steps of ``up``.
    def _write_pki(self) -> None:
        if (self.pki / "admin.crt").is_file():
            return
        self.pki.mkdir(parents=True, exist_ok=True)
        _openssl(
            self.pki,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=techsapo-local-ca",
        )
        names = (
            "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
            "DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
        )
        _signed_cert(self.pki, "apiserver", "/CN=kube-apiserver", extensions=f"subjectAltName={names}")
        _signed_cert(
            self.pki, "admin", "/O=system:masters/CN=techsapo-admin", extensions="extendedKeyUsage=clientAuth"
        )
        _openssl(self.pki, "genrsa", "-out", "sa.key", "2048")
        _openssl(self.pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "techsapo-local",
                    "cluster": {"server": self.server, "certificate-authority": str(self.pki / "ca.crt")},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(self.pki / "admin.crt"),
                        "client-key": str(self.pki / "admin.key"),
                    },
                }
            ],
            "contexts": [
                {"name": "techsapo-local", "context": {"cluster": "techsapo-local", "user": "admin"}}
            ],
            "current-context": "techsapo-local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: pathlib.Path, *, duration: str = "2h"
    ) -> pathlib.Path:
        """A kubeconfig at path that authenticates as a ServiceAccount, with a bound token."""
        token = self.kubectl(
            "create", "token", name, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        config = json.loads(self.kubeconfig.read_text())
        config["users"] = [{"name": name, "user": {"token": token}}]
        config["contexts"][0]["context"]["user"] = name
        path.write_text(json.dumps(config, indent=2))
        return path

    def _link_binaries(self, folder: pathlib.Path) -> None:
        self.bin.mkdir(parents=True, exist_ok=True)
        for binary in build.BINARIES:
            link = self.bin / binary.name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(folder / binary.name)

    def _apiserver_arguments(self) -> list[str]:
        pki = self.pki
        arguments = [
            f"--etcd-servers=http://127.0.0.1:{self.ports.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports.apiserver}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",  # room for thousands of Services (benchmarks)
            "--authorization-mode=Node,RBAC",
            # The defaults already include PodSecurity and ValidatingAdmissionPolicy; name the extra one.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
            "--endpoint-reconciler-type=none",
        ]
        if self.audit_policy is not None:
            arguments += [
                f"--audit-policy-file={self.audit_policy}",
                f"--audit-log-path={self.logs / 'audit.log'}",
                "--audit-log-format=json",
            ]
        return arguments

    def _kube_component_arguments(self, port: int) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--leader-elect=false",
        ]

    def _command(self, component: str, folder: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
        """The binary and arguments of one component."""
        ports = self.ports
        if component == "etcd":
            return folder / "etcd", [
                f"--data-dir={self.state / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{ports.etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{ports.etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{ports.etcd_peer}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ]
        if component == "kube-apiserver":
            return folder / "kube-apiserver", self._apiserver_arguments()
        if component == "kube-controller-manager":
            return folder / "kube-controller-manager", [
                *self._kube_component_arguments(ports.controller_manager),
                f"--service-account-private-key-file={self.pki / 'sa.key'}",
                f"--root-ca-file={self.pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={self.pki / 'ca.crt'}",
                f"--cluster-signing-key-file={self.pki / 'ca.key'}",
                "--use-service-account-credentials=true",
                "--controllers=*",
                # The default 20 requests/s makes the controllers, not the API server, the pace
                # setter once there are hundreds of Deployments.
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ]
        if component == "kube-scheduler":
            return folder / "kube-scheduler", self._kube_component_arguments(ports.scheduler)
        if component == "kwok":
            return folder / "kwok", [
                f"--kubeconfig={self.kubeconfig}",
                f"--config={folder / build.KWOK_STAGES_FILE}",
                "--manage-all-nodes=true",
                # The heartbeat stage renews node status only every ~10 min and relies on the Lease;
                # without one the node lifecycle controller marks every node NotReady after 50 s.
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
                f"--server-address=127.0.0.1:{ports.kwok}",
            ]
        raise ClusterError(f"unknown component {component!r}; one of {', '.join(COMPONENTS)}")

    def start_component(self, component: str) -> None:
        # The binaries' folder, from the link up made to it.
        folder = (self.bin / "kube-apiserver").resolve().parent
        binary, arguments = self._command(component, folder)
        self._start(component, binary, arguments)

    def restart_component(self, component: str, *, down_seconds: float = 0) -> None:
        """Stop one component, keep it down for a while, and start it again on the same ports and
        data (fault tests); waits for the API server to be ready again."""
        self.stop_component(component)
        time.sleep(down_seconds)
        self.start_component(component)
        self._wait("kube-apiserver to answer /readyz", self.ready, timeout=120, log="kube-apiserver")

    def _start_all(self, folder: pathlib.Path) -> None:
        for component in COMPONENTS:
            self._start(component, *self._command(component, folder))
            if component == "kube-apiserver":
                self._wait("kube-apiserver to answer /readyz", self.ready, timeout=120, log="kube-apiserver")

    def _create_nodes_and_storage(self) -> None:
        objects = [_node(f"kwok-node-{index}") for index in range(NODE_COUNT)]
        objects.append(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "kwok-volume",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "kwok.x-k8s.io/volume",  # kwok's volume stages bind its claims
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
            }
        )
        self.kubectl(
            "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        )

    def _nodes_ready(self) -> bool:
        result = self.kubectl("get", "nodes", "-o", "json", check=False)
        if result.returncode != 0:
            return False
        ready = [
            node
            for node in json.loads(result.stdout)["items"]
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= NODE_COUNT

    def _default_service_account(self) -> bool:
        return self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0

    def _wait(self, what: str, predicate: object, *, timeout: float, log: str) -> None:
        assert callable(predicate)
        started = time.monotonic()
        print(f"  waiting for {what}", flush=True)
        while not predicate():
            if time.monotonic() - started > timeout:
                raise ClusterError(
                    f"timed out after {timeout:.0f}s waiting for {what}; see {self.logs / (log + '.log')}"
                )
            dead = [c for c in self._expected() if c not in self.running()]
            if dead:
                raise ClusterError(
                    f"{dead[0]} exited while waiting for {what}; see {self.logs / (dead[0] + '.log')}"
                )
            time.sleep(0.5)

    def _expected(self) -> list[str]:
        return [path.stem for path in (self.state / "pids").glob("*.pid")]

    def up(self) -> None:
        """Start the cluster, or say that it already runs."""
        if self.running() and self.ready():
            print(f"cluster: already running; kubeconfig {self.kubeconfig}", flush=True)
            return
        if self.running():
            print("cluster: a previous start left processes behind; stopping them first", flush=True)
            self.down(quiet=True)
        started = time.monotonic()
        folder = build.ensure_binaries()
        self.state.mkdir(parents=True, exist_ok=True)
        print(f"cluster: starting in {self.state}", flush=True)
        self._link_binaries(folder)
        self._write_pki()
        self._write_kubeconfig()
        try:
            self._start_all(folder)
            self._create_nodes_and_storage()
            self._wait(f"{NODE_COUNT} Ready nodes", self._nodes_ready, timeout=120, log="kwok")
            self._wait(
                "the default ServiceAccount",
                self._default_service_account,
                timeout=120,
                log="kube-controller-manager",
            )
        except (ClusterError, subprocess.CalledProcessError):
            self.down(quiet=True, keep_logs=True)
            raise
        print(f"cluster: ready in {time.monotonic() - started:.0f}s", flush=True)
        print(
            f"  kubeconfig: {self.kubeconfig}\n"
            f"  kubectl:    {self.bin / 'kubectl'}\n"
            f"  logs:       {self.logs}/"
        )

    def down(self, *, quiet: bool = False, keep_logs: bool = False) -> None:
        """Stop every component ``up`` started (newest first) and remove the state."""
        stopped = [component for component in reversed(COMPONENTS) if self.stop_component(component)]
        if not self.state.exists():
            if not quiet:
                print("cluster: not running; nothing to stop", flush=True)
            return
        for entry in self.state.iterdir():
            if keep_logs and entry.name == "logs":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        if not keep_logs:
            self.state.rmdir()
        if not quiet:
            what = f"stopped {', '.join(stopped)}" if stopped else "not running"
            print(f"cluster: {what}; state removed", flush=True)


def _node(name: str) -> dict[str, object]:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def _openssl(folder: pathlib.Path, *arguments: str) -> None:
    result = subprocess.run(["openssl", *arguments], cwd=folder, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"could not create certificates (openssl {arguments[0]}): {result.stderr.strip()}")


def _signed_cert(folder: pathlib.Path, name: str, subject: str, *, extensions: str) -> None:
    _openssl(
        folder,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        subject,
    )
    (folder / f"{name}.ext").write_text(extensions + "\n")
    _openssl(
        folder,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.crt",
        "-days",
        "3650",
        "-extfile",
        f"{name}.ext",
    )


def _is_our_process(pid: int, state: pathlib.Path) -> bool:
    """Whether pid is alive and is one of ours (its working folder is the state folder)."""
    try:
        return pathlib.Path(f"/proc/{pid}/cwd").resolve() == state.resolve()
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return False


def _terminate(pid: int, *, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pathlib.Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _is_zombie(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m controlplane.cluster",
        description=textwrap.dedent(__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    arguments = parser.parse_args(argv)
    cluster = Cluster.default()
    try:
        if arguments.command == "up":
            cluster.up()
        elif arguments.command == "down":
            cluster.down()
        else:
            running = cluster.running()
            state = (
                "ready"
                if running and cluster.ready()
                else ("starting or broken" if running else "not running")
            )
            print(f"cluster: {state}; processes: {running or 'none'}")
    except (ClusterError, build.BuildError) as error:
        print(f"cluster {arguments.command} failed: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"cluster {arguments.command} failed: {' '.join(error.cmd[:3])}...: {error.stderr}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
