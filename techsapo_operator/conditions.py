"""Kubernetes-style conditions: built fresh each reconcile, keeping the time of the last transition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
PAUSED = "ReconciliationPaused"
API_SERVER_READY = "ApiServerReady"
WALL_BOUNCE_READY = "WallBounceReady"
MCP_PROXY_READY = "McpProxyReady"
REDIS_READY = "RedisReady"
POLICY_ENFORCED = "PolicyEnforced"
APPROVAL_PENDING = "ApprovalPending"


@dataclass(frozen=True)
class Observation:
    """One condition as observed now, before it meets the previous status."""

    type: str
    status: bool | None
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else str(self.status)


def merge(
    previous: list[dict[str, Any]], observations: list[Observation], *, generation: int, now: str
) -> list[dict[str, Any]]:
    """The new conditions list: one per observation, in order; lastTransitionTime moves only when
    the status does, so an unchanged observation yields an identical condition."""
    before = {condition.get("type"): condition for condition in previous}
    merged = []
    for observation in observations:
        old = before.get(observation.type)
        changed = old is None or old.get("status") != observation.status_text
        merged.append(
            {
                "type": observation.type,
                "status": observation.status_text,
                "reason": observation.reason,
                "message": observation.message,
                "lastTransitionTime": now if changed or old is None else old.get("lastTransitionTime", now),
                "observedGeneration": generation,
            }
        )
    return merged


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((condition for condition in conditions if condition.get("type") == type_), None)
