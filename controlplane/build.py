"""Build the local control plane's binaries from the wrapper Go modules, with a cache.

The binaries land in ``${XDG_CACHE_HOME:-~/.cache}/techsapo-operator/k8s-<key>``, where
the key hashes every wrapper's go.mod and go.sum and the Go version, so a fresh clone or a
CI run on the same machine reuses them. A cold build prints which binary it is on and the
elapsed time every half minute, because it takes many minutes on two cores.

Run as ``python -m controlplane.build`` (prints the binary folder on the last line).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

HERE = pathlib.Path(__file__).resolve().parent
KUBERNETES_VERSION = "v1.37.2"


@dataclass(frozen=True)
class Binary:
    """One binary to build: its name, its Go package, and the wrapper module that pins it."""

    name: str
    package: str
    module: str


BINARIES = (
    Binary("etcd", "go.etcd.io/etcd/server/v3", "etcd"),
    Binary("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "kubernetes"),
    Binary("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager", "kubernetes"),
    Binary("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", "kubernetes"),
    Binary("kubectl", "k8s.io/kubernetes/cmd/kubectl", "kubernetes"),
    Binary("kwok", "sigs.k8s.io/kwok/cmd/kwok", "kwok"),
    Binary("promtool", "github.com/prometheus/prometheus/cmd/promtool", "prometheus"),
)


class BuildError(RuntimeError):
    """A binary failed to build; the message names it and ends with the compiler's output."""


def go_version() -> str:
    return subprocess.run(
        ["go", "env", "GOVERSION"], check=True, capture_output=True, text=True, env=go_env()
    ).stdout.strip()


def go_env() -> dict[str, str]:
    """The environment for every go command: the machine's own toolchain, static binaries."""
    return {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


def cache_key() -> str:
    digest = hashlib.sha256(go_version().encode())
    for module in sorted({b.module for b in BINARIES}):
        for name in ("go.mod", "go.sum"):
            digest.update((HERE / module / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(base) / "techsapo-operator" / f"k8s-{cache_key()}"


def ldflags(binary: Binary) -> str:
    """Stamp the Kubernetes binaries with their release, or they report v0.0.0."""
    if binary.module != "kubernetes":
        return "-s -w"
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    stamps = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in stamps.items()]
    return " ".join(flags)


def build_one(binary: Binary, target: pathlib.Path, *, step: str) -> float:
    """Build one binary into target, printing a heartbeat; returns the seconds it took."""
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(30):
            print(f"{step} {binary.name}: still building, {time.monotonic() - started:.0f}s", flush=True)

    print(f"{step} {binary.name}: building {binary.package}", flush=True)
    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        result = subprocess.run(
            ["go", "build", "-trimpath", "-ldflags", ldflags(binary), "-o", str(target), binary.package],
            cwd=HERE / binary.module,
            env=go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        done.set()
    if result.returncode != 0:
        raise BuildError(f"could not build {binary.name} ({binary.package}):\n{result.stderr[-4000:]}")
    elapsed = time.monotonic() - started
    print(f"{step} {binary.name}: built in {elapsed:.0f}s", flush=True)
    return elapsed


KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
    # Claims of the kwok-volume StorageClass get a bound (simulated) volume.
    "volume/fast/pvc-provision.yaml",
    "volume/fast/pv-bind.yaml",
    "volume/fast/pvc-delete.yaml",
    "volume/fast/pv-delete.yaml",
)
KWOK_STAGES_FILE = "kwok-stages-v2.yaml"


def copy_kwok_stages(folder: pathlib.Path) -> None:
    """kwok simulates nothing without stages; take the ones its module ships, pinned like the binary."""
    source = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=HERE / "kwok",
        env=go_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stages = [(pathlib.Path(source) / "kustomize" / "stage" / name).read_text() for name in KWOK_STAGES]
    partial = folder / f".{KWOK_STAGES_FILE}.partial"
    partial.write_text("\n---\n".join(stage.strip() for stage in stages) + "\n")
    partial.replace(folder / KWOK_STAGES_FILE)


def ensure_binaries() -> pathlib.Path:
    """Return the folder holding every binary, building whatever the cache lacks."""
    folder = cache_dir()
    missing = [b for b in BINARIES if not (folder / b.name).is_file()]
    if not missing and (folder / KWOK_STAGES_FILE).is_file():
        print(f"control plane binaries: cached in {folder}", flush=True)
        return folder
    print(
        f"control plane binaries: building {len(missing)} into {folder} (a cold build takes minutes)",
        flush=True,
    )
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for index, binary in enumerate(missing, start=1):
        partial = folder / f".{binary.name}.partial"
        build_one(binary, partial, step=f"[{index}/{len(missing)}]")
        partial.replace(folder / binary.name)  # appear only when complete
    copy_kwok_stages(folder)
    print(f"control plane binaries: built in {time.monotonic() - started:.0f}s", flush=True)
    return folder


def main() -> int:
    if shutil.which("go") is None:
        print("control plane build: the go command is not on PATH; install Go 1.26 or newer", file=sys.stderr)
        return 1
    try:
        folder = ensure_binaries()
    except BuildError as error:
        print(f"control plane build failed: {error}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
