"""The kopf layer, kept thin: watches feed the controller's stores and queue; nothing else here.

Only event handlers are registered, so kopf keeps no per-object bookkeeping: it writes no
annotations, no status fields and no finalizers on any object. Its storages are still set to
annotations under techsapo.io explicitly, so that nothing could ever land in a pruned status.
"""

from __future__ import annotations

from typing import Any

import kopf

from techsapo_operator import kinds, kubeapi, lifecycle, models, reconciling
from techsapo_operator.rendering import meta

PREFIX = "techsapo.io"


def settings(*, watch_timeout_seconds: float = 240) -> kopf.OperatorSettings:
    configured = kopf.OperatorSettings()
    configured.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    configured.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    configured.persistence.finalizer = f"{PREFIX}/finalizer"
    configured.posting.level = 40  # kopf's own Events only for errors; the operator posts its own
    # kopf runs one short-lived task per object that has events. A limit on those tasks makes the
    # events of every object past it wait until a task has been idle for idle_timeout: with
    # thousands of children that delayed a start-up by minutes. The handlers only file the event,
    # so the tasks are cheap and unbounded, and end soon after their last event.
    configured.batching.worker_limit = None
    configured.batching.idle_timeout = 1.0
    # A watch is renewed at least this often: the server ends it after server_timeout, and the
    # client gives up on one that said nothing for client_timeout, so a stream that died silently
    # (a dropped connection no one closed) costs at most client_timeout.
    configured.watching.server_timeout = watch_timeout_seconds
    configured.watching.client_timeout = watch_timeout_seconds + max(5.0, watch_timeout_seconds / 8)
    configured.watching.connect_timeout = 10
    configured.networking.request_timeout = 60
    # kopf retries a failed watch request with these delays, then lets the error end the operator.
    # Its default gives up after 54 s; this waits out an API server outage of up to ten minutes,
    # reconnecting within 5 s of its return.
    configured.networking.error_backoffs = [0.5, 1, 2, 3, *([5] * 120)]
    configured.scanning.disabled = True  # the resources are known; no cluster-wide CRD or namespace list
    return configured


def register(
    registry: kopf.OperatorRegistry,
    controller: reconciling.Controller,
    *,
    connection: kubeapi.Connection,
    life: lifecycle.Lifecycle,
) -> None:
    """Register every handler of the operator into registry."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=connection.server,
            ca_path=connection.ca_path,
            insecure=connection.insecure,
            scheme="Bearer" if connection.bearer() else None,
            token=connection.bearer(),
            certificate_path=connection.certificate_path,
            private_key_path=connection.private_key_path,
        )

    @kopf.on.startup(registry=registry)
    async def start(**_: Any) -> None:
        await life.start()

    @kopf.on.cleanup(registry=registry)
    async def stop(**_: Any) -> None:
        await life.stop()

    @kopf.on.probe(registry=registry, id="workqueue")
    async def workqueue(**_: Any) -> int:
        if not life.healthy():
            raise kopf.PermanentError("the reconcile workers stopped")
        return len(controller.queue)

    # Async, so that kopf runs them on the event loop and not in a thread: the stores and the
    # queue belong to the loop.
    @kopf.on.event(models.GROUP, models.VERSION, models.PLURAL, registry=registry)
    async def techsapo_event(event: kopf.RawEvent, **_: Any) -> None:
        controller.observe_techsapo(event["type"], _with_type(event["object"], kinds.TECHSAPO))

    @kopf.on.event("", "v1", "resourcequotas", registry=registry, id="resourcequotas")
    async def quota_event(event: kopf.RawEvent, **_: Any) -> None:
        controller.observe_quota(event["type"], _with_type(event["object"], kinds.RESOURCE_QUOTA))

    for kind in kinds.CHILDREN:

        async def child_event(event: kopf.RawEvent, *, child_kind: kinds.Kind = kind, **_: Any) -> None:
            controller.observe_child(event["type"], _with_type(event["object"], child_kind))

        kopf.on.event(
            group=kind.group,
            version=kind.version,
            plural=kind.plural,
            registry=registry,
            id=f"child-{kind.plural}",
            labels={meta.MANAGED_BY_LABEL: meta.MANAGED_BY},
        )(child_event)


def _with_type(body: Any, kind: kinds.Kind) -> dict[str, Any]:
    return {**body, "apiVersion": kind.api_version, "kind": kind.kind}
