"""How fast the operator brings N instances to Ready, and what it costs, beside two baselines measured
in the same run on a local control plane of its own (with an audit log):

- floor: the exact children the renderer makes, applied straight to the API server with server-side
  apply at high concurrency (an async client, no operator): no operator can beat this here;
- kubectl: the same children with ``kubectl apply --server-side``, as a script or a GitOps tool would;
- operator: N TechSapos created at once, until every one is Ready=True with every child present.

Then, with the largest N present: spec-change latency, drift-revert time, 5 minutes idle, a restart,
and the operator's memory and event-loop lag; requests are counted from the API server's audit log.

    python scripts/bench.py [--sizes 10,100,300] [--idle-seconds 300] [--report bench/operator.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from controlplane import cluster as local_cluster
from techsapo_operator import kinds, kubeapi, rendering, validation
from tests import examples
from tests.integration.operators import OperatorProcess

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATE = ROOT / ".cluster-bench"
PORTS = local_cluster.Ports(
    etcd_client=24790, etcd_peer=24800, apiserver=17443, controller_manager=21257, scheduler=21259, kwok=21260
)
OPERATOR_USER = "system:serviceaccount:techsapo-system:techsapo-operator"
EXTRA_NODES, PODS_PER_NODE = 8, 250
"""Room for the pods: every dev instance runs three (API server, workers, Redis)."""
FLOOR_CONCURRENCY = 16
"""Requests in flight at once for the floor; more only adds contention on two cores."""
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata", "users": [OPERATOR_USER]}, {"level": "None"}],
}


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# The cluster.
def start_cluster() -> local_cluster.Cluster:
    STATE.mkdir(exist_ok=True)
    policy = STATE.parent / ".cluster-bench-audit-policy.yaml"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    cluster = local_cluster.Cluster(STATE, PORTS, audit_policy=policy)
    cluster.down(quiet=True)  # a fresh cluster: no state left from an earlier run counts
    cluster.up()
    nodes = []
    for index in range(EXTRA_NODES):
        capacity = {"cpu": "64", "memory": "512Gi", "pods": str(PODS_PER_NODE), "ephemeral-storage": "1Ti"}
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"kwok-bench-{index}",
                    "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
                    "labels": {"kubernetes.io/hostname": f"kwok-bench-{index}", "type": "kwok"},
                },
                "status": {"allocatable": capacity, "capacity": capacity},
            }
        )
    kubectl_apply(cluster, nodes)
    cluster.kubectl("apply", "--server-side", "-k", str(ROOT / "manifests" / "base"))
    wait(
        lambda: (
            cluster.kubectl("-n", "techsapo-system", "get", "sa", "techsapo-operator", check=False).returncode
            == 0
        ),
        "the operator's ServiceAccount",
        60,
    )
    return cluster


def kubectl_apply(cluster: local_cluster.Cluster, items: list[dict[str, Any]], *extra: str) -> None:
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", *extra, "-f", "-", stdin=listed, timeout=900
    )


def wait(predicate: Callable[[], Any], what: str, timeout: float, interval: float = 0.5) -> float:
    """Poll until predicate is true; returns the seconds it took; fails naming what never happened."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


def get_json(cluster: local_cluster.Cluster, *arguments: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(cluster.kubectl("get", *arguments, "-o", "json", timeout=120).stdout)
    return loaded


def create_namespace(cluster: local_cluster.Cluster, name: str) -> None:
    cluster.kubectl("create", "namespace", name)
    wait(
        lambda: cluster.kubectl("-n", name, "get", "sa", "default", check=False).returncode == 0,
        f"the default ServiceAccount in {name}",
        60,
    )


def delete_namespace(cluster: local_cluster.Cluster, name: str) -> None:
    step(f"  cleaning up namespace {name}")
    cluster.kubectl("delete", "namespace", name, "--wait=false")
    wait(
        lambda: cluster.kubectl("get", "namespace", name, check=False).returncode != 0,
        f"namespace {name} to be gone",
        600,
        interval=2,
    )


# What is applied.
def documents(namespace: str, count: int) -> list[dict[str, Any]]:
    found = []
    for index in range(count):
        body = examples.with_changes("dev", {})
        body["metadata"] = {"name": f"bench-{index}", "namespace": namespace}
        found.append(body)
    return found


def children(namespace: str, count: int) -> list[dict[str, Any]]:
    """What the renderer makes for the instances, without owner (there is no TechSapo behind them)."""
    rendered = []
    for body in documents(namespace, count):
        techsapo = validation.parse({**body, "metadata": {**body["metadata"], "uid": "0" * 8}})
        for child in rendering.render(techsapo):
            child["metadata"].pop("ownerReferences", None)
            rendered.append(child)
    return rendered


def workloads_ready(cluster: local_cluster.Cluster, namespace: str, expected: int) -> bool:
    """Every Deployment and StatefulSet exists and has all its replicas ready."""
    listed = get_json(cluster, "deployments.apps,statefulsets.apps", "-n", namespace)["items"]
    ready: list[dict[str, Any]] = [
        w for w in listed if w.get("status", {}).get("readyReplicas", 0) == w["spec"].get("replicas", 1)
    ]
    return len(listed) == expected and len(ready) == expected


# The baselines.
async def apply_concurrently(cluster: local_cluster.Cluster, objects: list[dict[str, Any]]) -> None:
    api = kubeapi.Api(
        kubeapi.connect(str(cluster.kubeconfig)),
        field_manager="bench-floor",
        max_connections=FLOOR_CONCURRENCY,
    )
    gate = asyncio.Semaphore(FLOOR_CONCURRENCY)

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            await api.apply(body)

    try:
        await asyncio.gather(*(one(body) for body in objects))
    finally:
        await api.close()


def baseline(cluster: local_cluster.Cluster, method: str, count: int) -> dict[str, float]:
    namespace = f"{method}-{count}"
    create_namespace(cluster, namespace)
    objects = children(namespace, count)
    workloads = sum(o["kind"] in ("Deployment", "StatefulSet") for o in objects)
    step(f"{method}, N={count}: applying {len(objects)} children")
    started = time.monotonic()
    if method == "floor":
        asyncio.run(apply_concurrently(cluster, objects))
    else:
        kubectl_apply(cluster, objects, "--field-manager=bench-kubectl")
    applied = time.monotonic() - started
    wait(lambda: workloads_ready(cluster, namespace, workloads), f"{method}'s workloads to be ready", 900)
    ready = time.monotonic() - started
    step(f"  applied in {applied:.1f}s, every workload ready after {ready:.1f}s")
    delete_namespace(cluster, namespace)
    return {"apply_seconds": applied, "ready_seconds": ready}


# The operator.
def all_ready(cluster: local_cluster.Cluster, namespace: str, count: int, generation: int) -> bool:
    items = get_json(cluster, "techsapos.techsapo.io", "-n", namespace)["items"]
    done = 0
    for body in items:
        status = body.get("status", {})
        ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        done += (
            ready.get("status") == "True"
            and status.get("observedGeneration") == body["metadata"]["generation"] == generation
        )
    return len(items) == count and done == count


class Memory:
    """Samples the operator's resident memory every second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _field(self, name: str) -> float:
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _loop(self) -> None:
        while not self.stopping.wait(1):
            with contextlib.suppress(OSError):
                self.samples.append(self._field("VmRSS"))

    def stop(self) -> dict[str, float]:
        peak = self._field("VmHWM")
        self.stopping.set()
        self.thread.join(5)
        return {"peak_mib": peak, "steady_mib": self.samples[-1] if self.samples else 0.0}


def loop_lag_p99(operator: OperatorProcess) -> float:
    """The 99th percentile of the event-loop lag histogram, as the upper bound of its bucket."""
    text = operator.metrics_text()
    buckets = []
    for line in text.splitlines():
        if line.startswith("techsapo_event_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    return next((bound for bound, count in buckets if count >= 0.99 * total), 0.0)


def audit_counts(
    log: pathlib.Path, since: datetime.datetime, until: datetime.datetime
) -> dict[str, dict[str, int]]:
    """The operator's requests between the two times, by kind of request and by 'verb resource'."""
    by_request: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    with log.open() as lines:
        for line in lines:
            entry = json.loads(line)
            if entry.get("user", {}).get("username") != OPERATOR_USER:
                continue
            received = datetime.datetime.fromisoformat(
                entry["requestReceivedTimestamp"].replace("Z", "+00:00")
            )
            if not since <= received <= until:
                continue
            target = entry.get("objectRef", {})
            resource = target.get("resource", entry.get("requestURI", "?"))
            if target.get("subresource"):
                resource += f"/{target['subresource']}"
            verb = entry["verb"]
            by_request[f"{verb} {resource}"] += 1
            totals["writes" if verb in WRITE_VERBS else "reads"] += 1
    return {"totals": dict(totals), "by_request": dict(sorted(by_request.items()))}


def per_instance(counts: dict[str, dict[str, int]], count: int) -> dict[str, Any]:
    return {
        "writes": counts["totals"].get("writes", 0) / count,
        "reads": counts["totals"].get("reads", 0) / count,
        "by_request": {key: value / count for key, value in counts["by_request"].items()},
    }


@contextlib.contextmanager
def running_operator(
    cluster: local_cluster.Cluster, kubeconfig: pathlib.Path, log: pathlib.Path, workers: int
) -> Iterator[OperatorProcess]:
    operator = OperatorProcess(kubeconfig, [], log, extra_arguments=("--workers", str(workers)))
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()


def quiet(operator: OperatorProcess, settle: float = 3.0, timeout: float = 300) -> float:
    """Seconds until the operator has not reconciled anything for ``settle`` seconds."""
    started = time.monotonic()
    last, since = operator.metric("techsapo_reconcile_total"), time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        now = operator.metric("techsapo_reconcile_total")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle and operator.metric("techsapo_workqueue_depth") == 0:
            return since - started
    raise RuntimeError("the operator never went quiet")


def operator_run(
    cluster: local_cluster.Cluster,
    *,
    kubeconfig: pathlib.Path,
    count: int,
    workers: int,
    logs: pathlib.Path,
    idle_seconds: float | None = None,
) -> dict[str, Any]:
    """Create count TechSapos, then change them all; with idle_seconds, go on to the steady state."""
    namespace = f"operator-{count}"
    create_namespace(cluster, namespace)
    audit = cluster.logs / "audit.log"
    with running_operator(cluster, kubeconfig, logs / f"operator-{count}.log", workers) as operator:
        assert operator.process is not None
        memory = Memory(operator.process.pid)
        step(f"operator, N={count}: creating {count} TechSapos")
        began, started = utc_now(), time.monotonic()
        kubectl_apply(cluster, documents(namespace, count), "--field-manager=gitops")
        wait(lambda: all_ready(cluster, namespace, count, 1), "every instance Ready", 900)
        ready = time.monotonic() - started
        quiet(operator)
        created = audit_counts(audit, began, utc_now())
        step(f"  every instance Ready after {ready:.1f}s")

        step(f"  changing the image of all {count}")
        began, started = utc_now(), time.monotonic()
        changed = [
            {**body, "spec": {**body["spec"], "image": "ghcr.io/techsapo/techsapo:1.5.0-dev"}}
            for body in documents(namespace, count)
        ]
        kubectl_apply(cluster, changed, "--field-manager=gitops")
        wait(lambda: all_ready(cluster, namespace, count, 2), "every instance Ready at generation 2", 900)
        change = time.monotonic() - started
        quiet(operator)
        spec_change = audit_counts(audit, began, utc_now())
        step(f"  every instance Ready at the new generation after {change:.1f}s")
        result: dict[str, Any] = {
            "ready_seconds": ready,
            "change_all_seconds": change,
            "requests_per_instance": {
                "creation": per_instance(created, count),
                "spec_change": per_instance(spec_change, count),
            },
        }
        if idle_seconds is not None:
            result["steady"] = steady_state(cluster, namespace, count, idle_seconds)
        result["loop_lag_p99_seconds"] = loop_lag_p99(operator)
        result["memory"] = memory.stop()
    if idle_seconds is not None:
        step("  restarting the operator on the converged instances")
        with running_operator(cluster, kubeconfig, logs / f"restart-{count}.log", workers) as operator:
            began = utc_now()
            restart_quiet = quiet(operator)
            restart = audit_counts(audit, began, utc_now())
        result["steady"] |= {
            "restart_quiet_seconds": restart_quiet,
            "restart_writes": restart["totals"].get("writes", 0),
            "restart_reads": restart["totals"].get("reads", 0),
            "rss_peak_mib": result["memory"]["peak_mib"],
            "rss_steady_mib": result["memory"]["steady_mib"],
            "loop_lag_p99_seconds": result["loop_lag_p99_seconds"],
        }
    delete_namespace(cluster, namespace)
    return result


async def _wait_for(
    api: kubeapi.Api, kind: kinds.Kind, namespace: str, name: str, wanted: Callable[[dict[str, Any]], bool]
) -> None:
    """Read the object every 10 ms until it is as wanted."""
    deadline = time.monotonic() + 60
    while not wanted(await api.get(kind, namespace, name) or {}):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {kind.kind} {namespace}/{name}")
        await asyncio.sleep(0.01)


def _image_is(image: str, deployment: dict[str, Any]) -> bool:
    return bool(deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image)


def _data_is(data: dict[str, str], config_map: dict[str, Any]) -> bool:
    return bool(config_map.get("data") == data)


async def _latencies(cluster: local_cluster.Cluster, namespace: str, samples: int) -> dict[str, list[float]]:
    gitops = kubeapi.Api(kubeapi.connect(str(cluster.kubeconfig)), field_manager="gitops")
    hand = kubeapi.Api(kubeapi.connect(str(cluster.kubeconfig)), field_manager="bench-hand-edit")
    spec_change, drift = [], []
    try:
        for index, body in enumerate(documents(namespace, samples)):
            name = body["metadata"]["name"]
            image = f"ghcr.io/techsapo/techsapo:1.6.{index}"
            started = time.monotonic()
            await gitops.apply({**body, "spec": {**body["spec"], "image": image}})
            await _wait_for(gitops, kinds.DEPLOYMENT, namespace, f"{name}-api", partial(_image_is, image))
            spec_change.append(time.monotonic() - started)
            policy = f"{name}-mcp-security-config"
            original = (await gitops.get(kinds.CONFIG_MAP, namespace, policy) or {})["data"]
            edit = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": policy, "namespace": namespace},
            }
            started = time.monotonic()
            await hand.apply({**edit, "data": {key: "{}" for key in original}})
            await _wait_for(gitops, kinds.CONFIG_MAP, namespace, policy, partial(_data_is, original))
            drift.append(time.monotonic() - started)
    finally:
        await gitops.close()
        await hand.close()
    return {"spec_change_seconds": spec_change, "drift_revert_seconds": drift}


def latencies(cluster: local_cluster.Cluster, namespace: str, samples: int) -> dict[str, list[float]]:
    """Spec change to the Deployment updated, and a hand edit to it put back, one instance at a time."""
    return asyncio.run(_latencies(cluster, namespace, samples))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def steady_state(
    cluster: local_cluster.Cluster, namespace: str, count: int, idle_seconds: float
) -> dict[str, Any]:
    """With count instances converged: spec-change latency, drift-revert time, idle cost."""
    audit = cluster.logs / "audit.log"
    samples = min(20, count)
    step(f"  steady state: spec-change latency and drift-revert time, {samples} instances one at a time")
    timings = latencies(cluster, namespace, samples)
    time.sleep(3)  # let the last reverts settle before the idle window opens
    step(f"  idle for {idle_seconds:.0f}s")
    began = utc_now()
    time.sleep(idle_seconds)
    idle = audit_counts(audit, began, utc_now())
    return {
        "instances": count,
        "spec_change_p50_seconds": statistics.median(timings["spec_change_seconds"]),
        "spec_change_p95_seconds": percentile(timings["spec_change_seconds"], 0.95),
        "drift_revert_p50_seconds": statistics.median(timings["drift_revert_seconds"]),
        "drift_revert_p95_seconds": percentile(timings["drift_revert_seconds"], 0.95),
        "idle_seconds": idle_seconds,
        "idle_writes": idle["totals"].get("writes", 0),
        "idle_reads_per_second": idle["totals"].get("reads", 0) / idle_seconds,
        "idle_requests": idle["by_request"],
        "samples": timings,
    }


# The report.
def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def table(report: dict[str, Any]) -> str:
    columns = [
        "N",
        "floor: apply",
        "floor: ready",
        "kubectl: apply",
        "kubectl: ready",
        "operator: ready",
        "vs floor",
        "vs kubectl",
        "writes/instance",
        "reads/instance",
    ]
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for size in report["sizes"]:
        floor, peer, operator = size["floor"], size["kubectl"], size["operator"]
        created = operator["requests_per_instance"]["creation"]
        cells = [
            str(size["instances"]),
            *(f"{seconds:.1f}s" for seconds in (floor["apply_seconds"], floor["ready_seconds"])),
            *(f"{seconds:.1f}s" for seconds in (peer["apply_seconds"], peer["ready_seconds"])),
            f"{operator['ready_seconds']:.1f}s",
            f"{operator['ready_seconds'] / floor['ready_seconds']:.2f}x",
            f"{operator['ready_seconds'] / peer['ready_seconds']:.2f}x",
            f"{created['writes']:.1f}",
            f"{created['reads']:.1f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    steady = report["steady"]
    measures = [
        (
            "spec change to children updated, p50 / p95",
            f"{ms(steady['spec_change_p50_seconds'])} / {ms(steady['spec_change_p95_seconds'])}",
        ),
        (
            "hand edit reverted, p50 / p95",
            f"{ms(steady['drift_revert_p50_seconds'])} / {ms(steady['drift_revert_p95_seconds'])}",
        ),
        (
            f"idle {steady['idle_seconds']:.0f} s: writes, reads per second",
            f"{steady['idle_writes']}, {steady['idle_reads_per_second']:.3f}",
        ),
        (
            "restart: quiet after, writes, reads",
            f"{steady['restart_quiet_seconds']:.1f} s, {steady['restart_writes']}, {steady['restart_reads']}",
        ),
        (
            "memory: peak / steady RSS",
            f"{steady['rss_peak_mib']:.0f} MiB / {steady['rss_steady_mib']:.0f} MiB",
        ),
        ("event-loop lag p99", ms(steady["loop_lag_p99_seconds"])),
    ]
    rows += ["", f"With {steady['instances']} instances present:", "", "| measure | value |", "|---|---|"]
    rows += [f"| {name} | {value} |" for name, value in measures]
    return "\n".join(rows)


def plot(report: dict[str, Any], path: pathlib.Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    sizes = [s["instances"] for s in report["sizes"]]
    figure, (times, costs) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    lines = [
        ("floor: apply", "floor", "apply_seconds"),
        ("floor: ready", "floor", "ready_seconds"),
        ("kubectl apply --server-side: ready", "kubectl", "ready_seconds"),
        ("operator: every TechSapo Ready", "operator", "ready_seconds"),
    ]
    for label, method, measure in lines:
        times.plot(sizes, [s[method][measure] for s in report["sizes"]], marker="o", label=label)
    times.set(xlabel="instances (N)", ylabel="seconds", title="Time to converge", xscale="log", yscale="log")
    times.legend(fontsize=8)
    width = 0.35
    positions = range(len(sizes))
    for offset, phase in ((-width / 2, "creation"), (width / 2, "spec_change")):
        counts = [s["operator"]["requests_per_instance"][phase] for s in report["sizes"]]
        costs.bar(
            [p + offset for p in positions], [c["writes"] for c in counts], width, label=f"{phase}: writes"
        )
        costs.bar(
            [p + offset for p in positions],
            [c["reads"] for c in counts],
            width,
            bottom=[c["writes"] for c in counts],
            label=f"{phase}: reads",
            alpha=0.5,
        )
    costs.set_xticks(list(positions), [str(s) for s in sizes])
    costs.set(xlabel="instances (N)", ylabel="requests per instance", title="Operator's requests (audit log)")
    costs.legend(fontsize=8)
    figure.suptitle(
        f"techsapo-operator on {report['machine']['cores']} cores ({report['machine']['cpu']})", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,300", help="instance counts, comma-separated")
    parser.add_argument("--idle-seconds", type=float, default=300)
    parser.add_argument("--workers", type=int, default=8, help="the operator's --workers")
    parser.add_argument("--report", default=str(ROOT / "bench" / "operator.json"))
    parser.add_argument("--keep-cluster", action="store_true", help="leave the benchmark's cluster running")
    arguments = parser.parse_args()
    sizes = sorted(int(size) for size in arguments.sizes.split(","))
    report_path = pathlib.Path(arguments.report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    step(f"benchmark: sizes {sizes}, its own control plane in {STATE}")
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="techsapo-bench-") as scratch:
            logs = pathlib.Path(scratch)
            kubeconfig = cluster.service_account_kubeconfig(
                "techsapo-system", "techsapo-operator", logs / "operator-kubeconfig", duration="4h"
            )
            results: list[dict[str, Any]] = []
            for size in sizes:
                floor = baseline(cluster, "floor", size)
                peer = baseline(cluster, "kubectl", size)
                operator = operator_run(
                    cluster,
                    kubeconfig=kubeconfig,
                    count=size,
                    workers=arguments.workers,
                    logs=logs,
                    idle_seconds=arguments.idle_seconds if size == max(sizes) else None,
                )
                results.append({"instances": size, "floor": floor, "kubectl": peer, "operator": operator})
    finally:
        if not arguments.keep_cluster:
            cluster.down(quiet=True)
    report = {
        "date": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "operator_workers": arguments.workers,
        "sizes": results,
        "steady": results[-1]["operator"].pop("steady"),
        "total_seconds": time.monotonic() - started,
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, report_path.with_suffix(".png"))
    print()
    print(table(report))
    plot_path = report_path.with_suffix(".png")
    print(f"\nreport: {report_path}, plot: {plot_path}; took {report['total_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
