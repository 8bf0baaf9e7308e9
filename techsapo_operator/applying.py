"""The one write path: server-side apply with one field manager, and pruning by label and owner.

A child is applied only when the live copy lacks something the renderer wants (see
``comparing``), so a reconcile where nothing changed writes nothing. Pruning deletes only
children this operator labelled as its own and whose controller reference is the TechSapo.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from techsapo_operator import comparing, kinds, kubeapi, stores
from techsapo_operator.kinds import ObjectKey
from techsapo_operator.rendering import meta

logger = logging.getLogger(__name__)


class StepError(RuntimeError):
    """A reconcile step failed; the message names the step and the object, then the reason."""

    def __init__(self, step: str, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.status = status
        self.reason = reason or f"{step.capitalize()}Failed"
        """The condition reason to report, ApplyFailed for instance."""


@dataclass
class Change:
    key: ObjectKey
    paths: list[str]
    """Where live differed from desired; empty when the child did not exist."""

    def describe(self) -> str:
        if not self.paths:
            return f"{self.key.kind} {self.key.name} (was missing)"
        shown = ", ".join(self.paths[:3]) + (
            f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        )
        return f"{self.key.kind} {self.key.name} ({shown})"


@dataclass
class SyncResult:
    changed: list[Change] = field(default_factory=list)
    pruned: list[ObjectKey] = field(default_factory=list)


FIRST_WAVE = frozenset({"ServiceAccount", "ConfigMap", "Service", "NetworkPolicy"})


def _waves(desired: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    first = [child for child in desired if child["kind"] in FIRST_WAVE]
    return [first, [child for child in desired if child["kind"] not in FIRST_WAVE]]


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class Applier:
    """Applies desired children and prunes the rest, reading live copies from the store."""

    def __init__(self, api: kubeapi.Api, children: stores.Store) -> None:
        self._api = api
        self._children = children
        # Children whose apply left live different from desired (a rewrite by the API server that the
        # comparison cannot see through), with the paths that stayed different: not applied again
        # until desired changes or other paths differ, so there is no write loop.
        self._unresolved: dict[ObjectKey, tuple[str, list[str]]] = {}
        self._namespace_labels: dict[str, dict[str, str]] = {}

    async def sync(
        self, desired: list[dict[str, Any]], *, owner_uid: str, keep: set[ObjectKey] | None = None
    ) -> SyncResult:
        """Apply desired and prune every other owned child, except those in ``keep``.

        The applies run concurrently in two waves: first what workloads refer to or are guarded
        by, so that no pod starts before its ServiceAccount, ConfigMaps and NetworkPolicies exist.
        """
        result = SyncResult()
        for wave in _waves(desired):
            outcomes = await asyncio.gather(*(self._apply_if_needed(c) for c in wave), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                raise failures[0]
            result.changed += [o for o in outcomes if isinstance(o, Change)]
        result.pruned = await self._prune(desired, owner_uid=owner_uid, keep=keep or set())
        return result

    async def label_namespace(self, name: str, labels: dict[str, str]) -> Change | None:
        """Put labels on a namespace (which no TechSapo can own) if it lacks them; read at most once
        per resync period, since namespaces are not watched."""
        if not labels:
            return None
        current = self._namespace_labels.get(name)
        if current is None:
            try:
                namespace = await self._api.get(kinds.NAMESPACE, None, name)
            except kubeapi.ApiError as error:
                raise StepError(
                    "label", f"could not read Namespace {name}: {error}", status=error.status
                ) from error
            current = (namespace or {}).get("metadata", {}).get("labels", {})
        missing = sorted(key for key, value in labels.items() if current.get(key) != value)
        if missing:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
            try:
                current = (await self._api.apply(body))["metadata"].get("labels", {})
            except kubeapi.ApiError as error:
                raise StepError(
                    "label", f"could not label Namespace {name}: {error}", status=error.status
                ) from error
        self._namespace_labels[name] = current
        return (
            Change(ObjectKey("Namespace", "", name), [f".metadata.labels.{key}" for key in missing])
            if missing
            else None
        )

    def forget_namespaces(self) -> None:
        """Read namespaces afresh on the next reconcile, so a removed label comes back."""
        self._namespace_labels.clear()

    async def _apply_if_needed(self, child: dict[str, Any]) -> Change | None:
        key = ObjectKey.of(child)
        live = self._children.get(key)
        if live is not None:
            paths = comparing.differences(child, live)
            if not paths:
                return None
            if self._unresolved.get(key) == (_digest(child), paths):
                return None
        else:
            paths = []
        try:
            applied = await self._api.apply(child)
        except kubeapi.ApiError as error:
            raise StepError(
                "apply", f"could not apply {key.kind} {key.name}: {error}", status=error.status
            ) from error
        self._children.upsert(applied)
        remaining = comparing.differences(child, applied)
        if remaining:
            logger.warning("applied %s, but the API server keeps %s different", key, ", ".join(remaining[:5]))
            self._unresolved[key] = (_digest(child), remaining)
        else:
            self._unresolved.pop(key, None)
        return Change(key, paths)

    async def _prune(
        self, desired: list[dict[str, Any]], *, owner_uid: str, keep: set[ObjectKey]
    ) -> list[ObjectKey]:
        wanted = {ObjectKey.of(child) for child in desired} | keep
        pruned = []
        for live in self._children.owned_by(owner_uid):
            key = ObjectKey.of(live)
            labels = live["metadata"].get("labels", {})
            if key in wanted or labels.get(meta.MANAGED_BY_LABEL) != meta.MANAGED_BY:
                continue
            kind = kinds.of(live)
            try:
                await self._api.delete(kind, key.namespace, key.name, uid=live["metadata"]["uid"])
            except kubeapi.ApiError as error:
                raise StepError(
                    "prune", f"could not delete {key.kind} {key.name}: {error}", status=error.status
                ) from error
            self._children.forget(key)
            self._unresolved.pop(key, None)
            pruned.append(key)
        return pruned
