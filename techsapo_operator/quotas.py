"""Whether a namespace's ResourceQuotas leave room for an instance's new Redis volumes.

The operator checks this before it applies anything: past a storage quota the StatefulSet
controller cannot create the claims, and the instance would wait for its Redis without any
condition saying why. Other quotas need no check here, since the API server refuses the operator's
own write and that refusal is reported as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from techsapo_operator import comparing, kinds

STORAGE = "requests.storage"
CLAIMS = "persistentvolumeclaims"


def _new_claims(
    desired: list[dict[str, Any]], live: Callable[[kinds.ObjectKey], dict[str, Any] | None]
) -> tuple[int, Decimal]:
    """Claims and bytes the desired StatefulSets that do not exist yet will ask for."""
    count, total = 0, Decimal(0)
    for child in desired:
        if child["kind"] != kinds.STATEFUL_SET.kind or live(kinds.ObjectKey.of(child)) is not None:
            continue
        replicas = int(child["spec"].get("replicas", 1))
        for template in child["spec"].get("volumeClaimTemplates", []):
            size = comparing.quantity(template["spec"]["resources"]["requests"]["storage"]) or Decimal(0)
            count += replicas
            total += replicas * size
    return count, total


def _shown(value: Decimal) -> str:
    for suffix, scale in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if value >= scale and value % scale == 0:
            return f"{value // scale}{suffix}"
    return str(value)


def shortfalls(
    desired: list[dict[str, Any]],
    quotas: list[dict[str, Any]],
    live: Callable[[kinds.ObjectKey], dict[str, Any] | None],
) -> list[str]:
    """What each quota lacks for the new claims, as messages that say what to do."""
    count, total = _new_claims(desired, live)
    if count == 0:
        return []
    found = []
    for quota in quotas:
        hard = quota.get("status", {}).get("hard") or quota.get("spec", {}).get("hard", {})
        used = quota.get("status", {}).get("used", {})
        where = f"ResourceQuota {quota['metadata']['name']} in namespace {quota['metadata']['namespace']}"
        for resource, needed, shown in ((STORAGE, total, _shown), (CLAIMS, Decimal(count), str)):
            if resource not in hard:
                continue
            limit = comparing.quantity(hard[resource]) or Decimal(0)
            left = limit - (comparing.quantity(used.get(resource, "0")) or Decimal(0))
            if needed > left:
                found.append(
                    f"{where}: the Redis volumes need {shown(needed)} of {resource}, "
                    f"but only {shown(max(left, Decimal(0)))} of {hard[resource]} is left; "
                    "raise the quota, or lower spec.redis.storage.size"
                )
    return found
