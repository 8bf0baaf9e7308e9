"""``techsapo-operator run``: the operator process, with health and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import kopf
import prometheus_client

from techsapo_operator import handlers, kubeapi, reconciling
from techsapo_operator.rendering import meta

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    kubeconfig: str | None = None
    namespaces: list[str] = field(default_factory=list)
    """Watch only these namespaces; empty means all of them."""
    workers: int = 4
    resync_seconds: float = 300
    health_address: str = "0.0.0.0:8080"
    metrics_address: str = "0.0.0.0:9090"
    log_format: str = "json"
    verbose: bool = False


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


async def run(options: Options) -> None:
    connection = kubeapi.connect(options.kubeconfig)
    api = kubeapi.Api(connection, field_manager=meta.MANAGED_BY)
    controller = reconciling.Controller(api, workers=options.workers, resync_seconds=options.resync_seconds)
    registry = kopf.OperatorRegistry()
    handlers.register(registry, controller, connection=connection, namespaces=options.namespaces)
    host, port = _split(options.metrics_address)
    prometheus_client.start_http_server(port, addr=host)
    health_host, health_port = _split(options.health_address)
    logger.info(
        "watching %s; health on %s, metrics on %s",
        ", ".join(options.namespaces) or "all namespaces",
        options.health_address,
        options.metrics_address,
    )
    try:
        await kopf.operator(
            registry=registry,
            settings=handlers.settings(),
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=f"http://{health_host}:{health_port}/healthz",
            standalone=True,
        )
    finally:
        await api.close()


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
    asyncio.run(run(options))
    return 0
