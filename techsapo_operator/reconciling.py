"""The reconcile: one idempotent, level-triggered pass from a TechSapo to its children and status.

render -> apply what differs -> prune what is no longer wanted -> observe the children -> write
status if it changed. Every trigger (the TechSapo changed, a child changed, the periodic resync,
a retry) queues the instance's key; a worker takes it and runs the same pass. There is no
separate create or update path, and nothing is kept in memory that the API does not also hold.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from techsapo_operator import (
    applying,
    approving,
    conditions,
    kinds,
    kubeapi,
    metrics,
    observing,
    queueing,
    quotas,
    rendering,
    stores,
    validation,
)
from techsapo_operator.applying import StepError
from techsapo_operator.conditions import Observation
from techsapo_operator.rendering import deployments, jobs, meta, namespaces
from techsapo_operator.vocabulary import Environment

logger = logging.getLogger(__name__)

PAUSE_ANNOTATION = "techsapo.io/reconcile"
PAUSE_VALUE = "disabled"
MAX_BACKOFF_SECONDS = 300.0
RELIST_DELAY_SECONDS = 2.0
"""A re-list waits this long after kopf's own re-list began, so that one covers all of its kinds."""
MANAGED_SELECTOR = f"{meta.MANAGED_BY_LABEL}={meta.MANAGED_BY}"


@dataclass(frozen=True, order=True)
class InstanceKey:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_paused(body: dict[str, Any]) -> bool:
    return bool(body["metadata"].get("annotations", {}).get(PAUSE_ANNOTATION) == PAUSE_VALUE)


def owner_key(body: dict[str, Any]) -> InstanceKey | None:
    """The TechSapo that controls a child, from its controller reference."""
    for reference in body["metadata"].get("ownerReferences", []):
        if reference.get("controller") and reference.get("kind") == kinds.TECHSAPO.kind:
            return InstanceKey(body["metadata"].get("namespace", ""), reference["name"])
    return None


class Controller:
    """The stores the watches feed, the work queue, and the workers that reconcile."""

    def __init__(
        self,
        api: kubeapi.Api,
        *,
        workers: int = 8,
        resync_seconds: float = 300,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.api = api
        self.techsapos = stores.Store()
        self.children = stores.Store()
        self.quotas = stores.Store()
        self.queue: queueing.WorkQueue[InstanceKey] = queueing.WorkQueue()
        self.applier = applying.Applier(api, self.children)
        self.workers = workers
        self.resync_seconds = resync_seconds
        self.clock = clock
        self._failures: dict[InstanceKey, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._namespaces: list[str | None] = [None]
        self._relisting: asyncio.Task[None] | None = None
        self._reporting_instance = socket.gethostname()

    # What the watches see.
    def observe_techsapo(self, event_type: str | None, body: dict[str, Any]) -> None:
        key = InstanceKey(body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED":
            self.techsapos.remove(body)
            self._failures.pop(key, None)
            return
        if self._listed_again(event_type, self.techsapos, body):
            return
        self.techsapos.upsert(body)
        self.queue.add(key)

    def observe_child(self, event_type: str | None, body: dict[str, Any]) -> None:
        if event_type == "DELETED":
            self.children.remove(body)
        elif self._listed_again(event_type, self.children, body):
            return
        else:
            self.children.upsert(body)
        key = owner_key(body)
        # A failing instance waits for its retry: its children change mostly from its own partial
        # writes, and reacting to each would bypass the backoff.
        if key is not None and not self.queue.delayed(key):
            self.queue.add(key)

    def observe_quota(self, event_type: str | None, body: dict[str, Any]) -> None:
        """A quota changed: reconcile the namespace's instances at once (one may wait for room)."""
        if event_type == "DELETED":
            self.quotas.remove(body)
        elif self._listed_again(event_type, self.quotas, body):
            return
        else:
            self.quotas.upsert(body)
        namespace = body["metadata"]["namespace"]
        for techsapo in self.techsapos.all():
            if techsapo["metadata"]["namespace"] == namespace:
                self.queue.add(InstanceKey(namespace, techsapo["metadata"]["name"]))

    def _listed_again(self, event_type: str | None, store: stores.Store, body: dict[str, Any]) -> bool:
        """Whether kopf listed an object the store already holds at this very version.

        Nothing is new then, so nothing is queued. But kopf also lists again when a watch could not
        resume (410 Gone after an API server restart, or a failed reconnect), and a list shows only
        what exists: an object deleted in the gap would stay in the store for good. So the
        operator then re-lists its stores from the API too (once at start-up as well, harmlessly).
        """
        if event_type is not None:
            return False
        current = store.get(kinds.ObjectKey.of(body))
        version = body["metadata"].get("resourceVersion")
        if current is None or current["metadata"].get("resourceVersion") != version:
            return False
        if self._tasks:
            self._relist_soon()
        return True

    def _relist_soon(self) -> None:
        if self._relisting is None or self._relisting.done():
            self._relisting = asyncio.create_task(self._relist_after_delay(), name="relist")

    async def _relist_after_delay(self) -> None:
        await asyncio.sleep(RELIST_DELAY_SECONDS)
        try:
            await self.relist()
        except kubeapi.ApiError as error:
            logger.warning("could not re-list after a watch restarted (%s); the resync will", error)

    async def prime(self, namespaces: Iterable[str | None]) -> None:
        """Fill the stores with a list of everything before any worker runs, so the first reconcile
        after a restart sees every existing child and writes nothing that is already right."""
        self._namespaces = list(namespaces)
        await self.relist()

    async def relist(self) -> None:
        """Make the stores exactly what the API holds now, and queue every instance."""
        for namespace in self._namespaces:
            found, version = await self.api.list_at(kinds.TECHSAPO, namespace=namespace)
            for key in self.techsapos.replace(kinds.TECHSAPO.kind, namespace, found, version=version):
                self._failures.pop(InstanceKey(key.namespace, key.name), None)
            for kind in kinds.CHILDREN:
                found, version = await self.api.list_at(
                    kind, namespace=namespace, label_selector=MANAGED_SELECTOR
                )
                self.children.replace(kind.kind, namespace, found, version=version)
            found, version = await self.api.list_at(kinds.RESOURCE_QUOTA, namespace=namespace)
            self.quotas.replace(kinds.RESOURCE_QUOTA.kind, namespace, found, version=version)
        for body in self.techsapos.all():
            self.queue.add(InstanceKey(body["metadata"]["namespace"], body["metadata"]["name"]))

    # Running.
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"worker-{n}") for n in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._resync(), name="resync"))

    async def stop(self) -> None:
        self.queue.cancel_timers()
        tasks = [*self._tasks, *([self._relisting] if self._relisting else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def alive(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def _resync(self) -> None:
        """Every resync period: re-read namespaces' labels, re-list the stores, reconcile everything.

        The re-list heals any copy a missed watch event left stale, within this period at worst.
        """
        while True:
            await asyncio.sleep(self.resync_seconds)
            self.applier.forget_namespaces()
            try:
                await self.relist()
            except kubeapi.ApiError as error:
                logger.warning("the resync could not re-list (%s); reconciling from the stores", error)
                for body in self.techsapos.all():
                    self.queue.add(InstanceKey(body["metadata"]["namespace"], body["metadata"]["name"]))

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile_key(key)
            finally:
                self.queue.done(key)

    async def reconcile_key(self, key: InstanceKey) -> str:
        """Reconcile one instance, with metrics, and a retry with backoff when it fails."""
        body = self.techsapos.get(kinds.ObjectKey(kinds.TECHSAPO.kind, key.namespace, key.name))
        if body is None:
            return "absent"
        started = time.monotonic()
        try:
            outcome = await self.reconcile(body)
        except StepError as error:
            outcome = "error"
            metrics.RECONCILE_ERRORS.labels(step=error.step).inc()
            logger.warning("reconcile of %s failed: %s", key, error)
            await self._report_failure(body, error)
            self._retry_later(key)
        except kubeapi.ApiError as error:
            outcome = "error"
            metrics.RECONCILE_ERRORS.labels(step="status").inc()
            logger.warning("reconcile of %s could not write status: %s", key, error)
            self._retry_later(key)
        except Exception:  # a bug must not stop the worker: log it and retry like any failure
            outcome = "error"
            metrics.RECONCILE_ERRORS.labels(step="unexpected").inc()
            logger.exception("reconcile of %s failed unexpectedly", key)
            self._retry_later(key)
        else:
            self._failures.pop(key, None)
        metrics.RECONCILES.labels(outcome=outcome).inc()
        metrics.RECONCILE_DURATION.labels(outcome=outcome).observe(time.monotonic() - started)
        self._update_gauges()
        return outcome

    def _retry_later(self, key: InstanceKey) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        self.queue.add_after(key, min(2.0 ** (failures - 1), MAX_BACKOFF_SECONDS))

    def _update_gauges(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        paused = 0
        for body in self.techsapos.all():
            ready = conditions.find(body.get("status", {}).get("conditions", []), conditions.READY)
            environment = str(body.get("spec", {}).get("environment", "unknown"))
            state = "true" if ready and ready.get("status") == "True" else "false"
            counts[(environment, state)] = counts.get((environment, state), 0) + 1
            paused += is_paused(body)
        for environment in [*(e.value for e in Environment), "unknown"]:
            for state in ("true", "false"):
                metrics.INSTANCES.labels(environment=environment, ready=state).set(
                    counts.get((environment, state), 0)
                )
        metrics.PAUSED.set(paused)

    # One pass.
    async def reconcile(self, body: dict[str, Any]) -> str:
        metadata = body["metadata"]
        if metadata.get("deletionTimestamp"):
            return "deleting"  # the garbage collector removes the children with their owner
        if is_paused(body):
            await self._write_paused(body)
            return "paused"
        try:
            techsapo = validation.parse(body)
        except validation.InvalidTechSapoError as error:
            await self._write_invalid(body, error)
            return "invalid"
        status = body.get("status") or {}
        approval = approving.plan(techsapo, status, now=self.clock())
        target = approval.target or techsapo
        instance = meta.Instance.of(target)
        desired = rendering.render(target)
        # A difference counts as drift only when nothing new was asked for or approved since the last pass.
        settled = (
            status.get("observedGeneration") == metadata.get("generation")
            and not _stalled(status)
            and "approved" not in approval.status
        )
        result = applying.SyncResult()
        if approval.target is not None:  # with nothing approved yet, nothing is applied and nothing pruned
            self._check_quotas(metadata["namespace"], desired)
            applied, deferred = self._defer_bootstrap(desired)
            result = await self.applier.sync(applied, owner_uid=metadata["uid"], keep=deferred)
        labelled = await self.applier.label_namespace(metadata["namespace"], namespaces.labels(instance))
        if labelled is not None:
            result.changed.append(labelled)
        if settled and (result.changed or result.pruned):
            await self._report_drift(body, result)
        if approval.event is not None:
            await self.event(body, *approval.event)
        await self._write_observed(body, instance, desired, approval)
        return "changed" if result.changed or result.pruned else "unchanged"

    def _check_quotas(self, namespace: str, desired: list[dict[str, Any]]) -> None:
        in_namespace = [q for q in self.quotas.all() if q["metadata"]["namespace"] == namespace]
        shortfalls = quotas.shortfalls(desired, in_namespace, self.children.get)
        if shortfalls:
            raise StepError("quota", "; ".join(shortfalls), reason="QuotaExceeded")

    def _defer_bootstrap(
        self, desired: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], set[kinds.ObjectKey]]:
        """Hold the Redis bootstrap Job back until every Redis pod is Ready (it is kept, not pruned)."""
        job = next((c for c in desired if c["kind"] == kinds.JOB.kind), None)
        if job is None or self.children.get(kinds.ObjectKey.of(job)) is not None:
            return desired, set()
        pods_ready = observing.statefulset(
            conditions.REDIS_READY, self._live(desired, kinds.STATEFUL_SET, meta.REDIS)
        )
        if pods_ready.status:
            return desired, set()
        return [c for c in desired if c is not job], {kinds.ObjectKey.of(job)}

    def _live(self, desired: list[dict[str, Any]], kind: kinds.Kind, component: str) -> dict[str, Any] | None:
        for child in desired:
            if child["kind"] == kind.kind and child["metadata"]["labels"][meta.COMPONENT_LABEL] == component:
                return self.children.get(kinds.ObjectKey.of(child))
        return None

    async def _write_observed(
        self,
        body: dict[str, Any],
        instance: meta.Instance,
        desired: list[dict[str, Any]],
        approval: approving.Plan,
    ) -> None:
        policy_map = next(c for c in desired if c["metadata"]["labels"][meta.COMPONENT_LABEL] == meta.POLICY)
        policy_hash = deployments.policy_hash(instance)
        components = observing.components(
            instance.settings,
            api=self._live(desired, kinds.DEPLOYMENT, meta.API_SERVER),
            wall_bounce=self._live(desired, kinds.DEPLOYMENT, meta.WALL_BOUNCE),
            mcp_proxy=self._live(desired, kinds.DEPLOYMENT, meta.MCP_PROXY),
            redis_set=self._live(desired, kinds.STATEFUL_SET, meta.REDIS),
            bootstrap=self._live(desired, kinds.JOB, jobs.BOOTSTRAP_COMPONENT),
        )
        components.append(
            observing.policy(policy_map, self.children.get(kinds.ObjectKey.of(policy_map)), policy_hash)
        )
        await self._write_status(
            body,
            [*_headline(components, approval), *components],
            policy_hash=policy_hash,
            extra=approval.status,
        )

    async def _write_status(
        self,
        body: dict[str, Any],
        observations: list[Observation],
        *,
        policy_hash: str | None = None,
        keep_others: bool = False,
        acted: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Write status if it differs from what the object holds; an unchanged pass writes nothing.

        ``keep_others`` keeps the conditions not observed now as they were; ``acted`` False leaves
        observedGeneration alone, since the operator did not act on the current generation.
        """
        metadata = body["metadata"]
        status = body.get("status") or {}
        previous = status.get("conditions", [])
        generation = int(metadata.get("generation", 0))
        merged = conditions.merge(previous, observations, generation=generation, now=self.clock())
        if keep_others:
            fresh = {o.type for o in observations}
            merged = [c for c in previous if c.get("type") not in fresh] + merged
        observed = generation if acted else status.get("observedGeneration")
        wanted: dict[str, Any] = {"observedGeneration": observed, "conditions": merged}
        if policy_hash is not None:
            wanted["policyHash"] = policy_hash
        wanted.update(extra or {})
        if all(status.get(field) == value for field, value in wanted.items()):
            return
        updated = await self.api.patch_status(kinds.TECHSAPO, metadata["namespace"], metadata["name"], wanted)
        self.techsapos.upsert(
            {"apiVersion": kinds.TECHSAPO.api_version, "kind": kinds.TECHSAPO.kind, **updated}
        )
        self._note_transitions(body, previous, merged)

    def _note_transitions(
        self, body: dict[str, Any], previous: list[dict[str, Any]], merged: list[dict[str, Any]]
    ) -> None:
        before = conditions.find(previous, conditions.READY)
        after = conditions.find(merged, conditions.READY)
        if after and (before is None or before.get("status") != after.get("status")):
            logger.info(
                "%s/%s: Ready=%s (%s) %s",
                body["metadata"]["namespace"],
                body["metadata"]["name"],
                after["status"],
                after["reason"],
                after["message"],
            )

    async def _write_paused(self, body: dict[str, Any]) -> None:
        message = (
            f"{PAUSE_ANNOTATION}={PAUSE_VALUE}: the operator makes no writes for this instance and "
            "the other conditions are as last observed; remove the annotation to resume"
        )
        shown = conditions.find(body.get("status", {}).get("conditions", []), conditions.PAUSED)
        if shown is not None and shown.get("status") == "True":
            return  # said once; a paused instance gets no further writes, its status included
        await self.event(body, "Normal", "ReconciliationPaused", message)
        observation = Observation(conditions.PAUSED, True, "AnnotationSet", message)
        await self._write_status(body, [observation], keep_others=True, acted=False)

    async def _write_invalid(self, body: dict[str, Any], error: validation.InvalidTechSapoError) -> None:
        message = "; ".join(error.problems)
        stalled = conditions.find(body.get("status", {}).get("conditions", []), conditions.STALLED)
        if stalled is None or stalled.get("message") != message:
            await self.event(body, "Warning", "InvalidSpec", message)
        await self._write_status(
            body,
            [
                Observation(conditions.READY, False, "InvalidSpec", message),
                Observation(conditions.RECONCILING, False, "InvalidSpec", ""),
                Observation(conditions.STALLED, True, "InvalidSpec", message),
            ],
        )

    async def _report_failure(self, body: dict[str, Any], error: StepError) -> None:
        reason = error.reason
        message = str(error)
        stalled = conditions.find(body.get("status", {}).get("conditions", []), conditions.STALLED)
        if stalled is None or stalled.get("message") != message:
            await self.event(body, "Warning", reason, message)
        try:
            await self._write_status(
                body,
                [
                    Observation(conditions.READY, False, reason, message),
                    Observation(conditions.RECONCILING, True, reason, "retrying with backoff"),
                    Observation(conditions.STALLED, True, reason, message),
                ],
                keep_others=True,
            )
        except kubeapi.ApiError as status_error:
            logger.warning("could not record the failure in status: %s", status_error)

    async def _report_drift(self, body: dict[str, Any], result: applying.SyncResult) -> None:
        for change in result.changed:
            metrics.DRIFT_CORRECTIONS.labels(kind=change.key.kind).inc()
        for key in result.pruned:
            metrics.DRIFT_CORRECTIONS.labels(kind=key.kind).inc()
        reverted = [change.describe() for change in result.changed]
        reverted += [f"{key.kind} {key.name} (not wanted, deleted)" for key in result.pruned]
        message = "reverted changes made outside the operator: " + "; ".join(reverted)
        logger.warning("%s/%s: %s", body["metadata"]["namespace"], body["metadata"]["name"], message)
        await self.event(body, "Warning", "DriftReverted", message)

    async def event(self, body: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record a Kubernetes Event on the TechSapo; a failure to record it is logged, not raised."""
        metadata = body["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
            "involvedObject": {
                "apiVersion": kinds.TECHSAPO.api_version,
                "kind": kinds.TECHSAPO.kind,
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata["uid"],
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": meta.MANAGED_BY},
            "reportingComponent": meta.MANAGED_BY,
            "reportingInstance": self._reporting_instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.api.create(kinds.EVENT, metadata["namespace"], event)
        except kubeapi.ApiError as error:
            logger.warning(
                "could not record event %s on %s/%s: %s",
                reason,
                metadata["namespace"],
                metadata["name"],
                error,
            )


def _headline(components: list[Observation], approval: approving.Plan) -> list[Observation]:
    """Ready, Reconciling and Stalled, from the components and the state of approval."""
    pending = approval.observation
    if pending is not None and pending.reason == "Denied":
        return [
            Observation(conditions.READY, False, "ChangeDenied", pending.message),
            Observation(conditions.RECONCILING, False, "ChangeDenied", ""),
            Observation(conditions.STALLED, True, "ChangeDenied", pending.message),
            pending,
        ]
    waiting = [o for o in components if not o.status]
    if approval.waiting and pending is not None:
        ready = Observation(conditions.READY, False, "ApprovalPending", pending.message)
        reconciling = Observation(conditions.RECONCILING, True, "ApprovalPending", pending.message)
    elif waiting:
        summary = "; ".join(f"{o.type}: {o.message}" for o in waiting)
        ready = Observation(conditions.READY, False, "ComponentsNotReady", summary)
        reconciling = Observation(conditions.RECONCILING, True, waiting[0].reason, summary)
    else:
        ready = Observation(
            conditions.READY, True, "AllComponentsReady", "every component is ready at this generation"
        )
        reconciling = Observation(conditions.RECONCILING, False, "Converged", "")
    headline = [ready, reconciling, Observation(conditions.STALLED, False, "Progressing", "")]
    return [*headline, pending] if pending is not None else headline


def _stalled(status: dict[str, Any]) -> bool:
    stalled = conditions.find(status.get("conditions", []), conditions.STALLED)
    return stalled is not None and stalled.get("status") == "True"
