"""``techsapo-operator run``: the operator process, with health and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field

import kopf
import prometheus_client

from techsapo_operator import handlers, kubeapi, leadership, lifecycle, metrics, reconciling
from techsapo_operator.rendering import meta

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    kubeconfig: str | None = None
    namespaces: list[str] = field(default_factory=list)
    """Watch only these namespaces; empty means all of them."""
    workers: int = 8
    resync_seconds: float = 300
    health_address: str = "0.0.0.0:8080"
    metrics_address: str = "0.0.0.0:9090"
    log_format: str = "json"
    verbose: bool = False
    leader_elect: bool = False
    """Act only while holding the leader Lease, so that several replicas can run."""
    leader_election_namespace: str = ""
    """Where the Lease lives; empty means $POD_NAMESPACE, else techsapo-system."""
    leader_election_id: str = "techsapo-operator"
    leader_timing: leadership.Timing = field(default_factory=leadership.Timing)
    watch_timeout_seconds: float = 240
    """A watch stream is renewed at least this often, so a stream that died silently costs at most
    this long plus an eighth (at least 5 s) of grace for the answer."""


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


LAG_PROBE_SECONDS = 0.5


async def _measure_loop_lag() -> None:
    """Sleep a fixed time again and again; the overshoot is how long the loop was blocked."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_PROBE_SECONDS)
        metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - started - LAG_PROBE_SECONDS))


def _elector(options: Options, api: kubeapi.Api) -> leadership.LeaderElector | None:
    if not options.leader_elect:
        return None
    namespace = options.leader_election_namespace or os.environ.get("POD_NAMESPACE") or "techsapo-system"
    return leadership.LeaderElector(
        api,
        namespace=namespace,
        name=options.leader_election_id,
        identity=f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}",
        timing=options.leader_timing,
    )


async def run(options: Options) -> bool:
    """Run until stopped; returns False when the process ends because it lost leadership."""
    connection = kubeapi.connect(options.kubeconfig)
    api = kubeapi.Api(connection, field_manager=meta.MANAGED_BY)
    controller = reconciling.Controller(api, workers=options.workers, resync_seconds=options.resync_seconds)
    life = lifecycle.Lifecycle(controller, options.namespaces, _elector(options, api))
    registry = kopf.OperatorRegistry()
    handlers.register(registry, controller, connection=connection, life=life)
    host, port = _split(options.metrics_address)
    prometheus_client.start_http_server(port, addr=host)
    health_host, health_port = _split(options.health_address)
    logger.info(
        "watching %s; health on %s, metrics on %s",
        ", ".join(options.namespaces) or "all namespaces",
        options.health_address,
        options.metrics_address,
    )
    lag = asyncio.create_task(_measure_loop_lag(), name="loop-lag")
    try:
        await kopf.operator(
            registry=registry,
            settings=handlers.settings(watch_timeout_seconds=options.watch_timeout_seconds),
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=f"http://{health_host}:{health_port}/healthz",
            standalone=True,
            stop_flag=life.stopped,
        )
    finally:
        lag.cancel()
        await api.close()
    return not life.leadership_lost


def main(options: Options) -> int:
    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.log_format == "json" else kopf.LogFormat.FULL,
    )
    if not options.verbose:
        # One line per request or per watch event drowns what matters; the metrics count them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Exit non-zero on lost leadership, so that the kubelet restarts the container as a standby.
    return 0 if asyncio.run(run(options)) else 1
