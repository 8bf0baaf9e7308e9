"""Leader election on a coordination.k8s.io Lease, as client-go does it: one replica acts, the
others wait, and a replica that cannot renew in time stops acting before another may take over.

A holder's lease counts as expired only by this process's own clock: the time since this process
last saw the record change, not the timestamps in it, so clock skew between replicas does not matter.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from dataclasses import dataclass
from typing import Any

from techsapo_operator import kinds, kubeapi, metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    lease_seconds: float = 15
    """How long a holder's claim lasts without renewal; a standby takes over after this."""
    renew_deadline_seconds: float = 10
    """The leader gives up when it could not renew for this long; shorter than the lease."""
    retry_seconds: float = 2
    """How often the leader renews and a standby tries to acquire."""

    def __post_init__(self) -> None:
        if not self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            raise ValueError("leader election needs retry < renew deadline < lease duration")


def _micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self, api: kubeapi.Api, *, namespace: str, name: str, identity: str, timing: Timing = Timing()
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._renewed_at = 0.0

    @property
    def description(self) -> str:
        return f"Lease {self.namespace}/{self.name} as {self.identity}"

    async def acquire(self) -> None:
        """Return once this process holds the lease."""
        logger.info("waiting to lead: %s", self.description)
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self.timing.retry_seconds)
        metrics.LEADER.set(1)
        logger.info("leading: %s", self.description)

    async def hold(self) -> None:
        """Renew the lease until renewing fails for the renew deadline; then return (leadership lost)."""
        while True:
            await asyncio.sleep(self.timing.retry_seconds)
            if await self._try_acquire_or_renew():
                continue
            holder = (self._observed_spec or {}).get("holderIdentity") or ""
            if holder not in ("", self.identity):
                reason = f"{holder} holds it now"
            elif time.monotonic() - self._renewed_at >= self.timing.renew_deadline_seconds:
                reason = f"could not renew it for {self.timing.renew_deadline_seconds:g}s"
            else:
                continue
            metrics.LEADER.set(0)
            logger.error("lost leadership (%s): %s", self.description, reason)
            return

    async def release(self) -> None:
        """Give the lease up on a clean shutdown, so that a standby takes over at once."""
        metrics.LEADER.set(0)
        lease = await self._read()
        if lease is None or lease.get("spec", {}).get("holderIdentity") != self.identity:
            return
        lease["spec"] = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
        try:
            await self.api.replace(kinds.LEASE, lease)
            logger.info("released %s", self.description)
        except kubeapi.ApiError as error:
            logger.warning("could not release %s: %s", self.description, error)

    async def _read(self) -> dict[str, Any] | None:
        try:
            return await self.api.get(kinds.LEASE, self.namespace, self.name)
        except kubeapi.ApiError as error:
            logger.warning("could not read %s: %s", self.description, error)
            return None

    async def _try_acquire_or_renew(self) -> bool:
        # A hanging request must not keep a leader acting past its deadline: one try gets a retry period.
        try:
            async with asyncio.timeout(self.timing.retry_seconds):
                taken = await self._take()
        except kubeapi.ApiError as error:
            if error.status != 409:  # a conflict only means another replica was faster
                logger.warning("could not acquire or renew %s: %s", self.description, error)
            return False
        except TimeoutError:
            logger.warning("could not acquire or renew %s: no answer in time", self.description)
            return False
        if taken:
            self._renewed_at = time.monotonic()
        return taken

    async def _take(self) -> bool:
        lease = await self.api.get(kinds.LEASE, self.namespace, self.name)
        if lease is None:
            await self.api.create(kinds.LEASE, self.namespace, self._new_lease())
            return True
        if not self._may_take(lease.get("spec", {})):
            return False
        await self.api.replace(kinds.LEASE, self._taken(lease))
        return True

    def _may_take(self, spec: dict[str, Any]) -> bool:
        now = time.monotonic()
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = spec, now
        holder = spec.get("holderIdentity") or ""
        if not holder or holder == self.identity:
            return True
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_seconds)
        return now - self._observed_at >= duration

    def _spec(self, *, acquired: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timing.lease_seconds),
            "acquireTime": acquired,
            "renewTime": _micro_time(),
            "leaseTransitions": transitions,
        }

    def _new_lease(self) -> dict[str, Any]:
        return {
            "apiVersion": kinds.LEASE.api_version,
            "kind": kinds.LEASE.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._spec(acquired=_micro_time(), transitions=0),
        }

    def _taken(self, lease: dict[str, Any]) -> dict[str, Any]:
        spec = lease.get("spec", {})
        ours = spec.get("holderIdentity") == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        taken = self._spec(
            acquired=spec.get("acquireTime") if ours else _micro_time(),
            transitions=transitions if ours else transitions + 1,
        )
        return {**lease, "spec": taken}
