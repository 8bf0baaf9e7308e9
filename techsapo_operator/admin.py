"""What an admin runs: approve or deny a pending change, and read an instance's state.

``techsapo-operator approve NAME -n NS`` (also ``kubectl techsapo approve NAME``) writes an
approval naming the pending change's hash and the admin's own user name into the TechSapo's
status. The API server decides whether that write is allowed (manifests/policies/approvals.yaml).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from techsapo_operator import kinds, kubeapi
from techsapo_operator.rendering import meta


class AdminError(RuntimeError):
    """The command cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    name: str
    namespace: str


async def whoami(api: kubeapi.Api) -> str:
    """The user name the API server sees for these credentials."""
    review = await api.create(
        kinds.SELF_SUBJECT_REVIEW,
        None,
        {"apiVersion": kinds.SELF_SUBJECT_REVIEW.api_version, "kind": kinds.SELF_SUBJECT_REVIEW.kind},
    )
    return str(review["status"]["userInfo"]["username"])


async def _pending(api: kubeapi.Api, target: Target, expected_hash: str | None) -> tuple[dict[str, Any], str]:
    body = await api.get(kinds.TECHSAPO, target.namespace, target.name)
    if body is None:
        raise AdminError(f"TechSapo {target.namespace}/{target.name} does not exist")
    pending = (body.get("status") or {}).get("pendingChange")
    if not pending:
        raise AdminError(f"TechSapo {target.namespace}/{target.name} has no pending change to decide on")
    if expected_hash is not None and expected_hash != pending["hash"]:
        raise AdminError(
            f"hash {expected_hash} is stale: the pending change is now {pending['hash']} (generation "
            f"{pending['generation']}); review it with `kubectl techsapo status {target.name}` "
            "and decide on that one"
        )
    return body, str(pending["hash"])


async def decide(
    api: kubeapi.Api, target: Target, *, approve: bool, expected_hash: str | None, reason: str = ""
) -> str:
    """Approve or deny the pending change; returns a line saying what was recorded."""
    _, pending_hash = await _pending(api, target, expected_hash)
    user = await whoami(api)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    decision = {"hash": pending_hash, "user": user, "time": now, "reason": reason}
    field = "approval" if approve else "denial"
    try:
        await api.patch_status(kinds.TECHSAPO, target.namespace, target.name, {field: decision})
    except kubeapi.ApiError as error:
        raise AdminError(f"the API server refused the {field}: {error.message}") from error
    verb = "approved" if approve else "denied"
    return f"{verb} change {pending_hash} of TechSapo {target.namespace}/{target.name} as {user}"


def describe(body: dict[str, Any], children: list[dict[str, Any]]) -> str:
    """A readable summary of an instance: conditions, pending change, approval, children."""
    metadata, status = body["metadata"], body.get("status") or {}
    lines = [
        f"TechSapo {metadata['namespace']}/{metadata['name']} ({body['spec']['environment']}), "
        f"generation {metadata.get('generation')}, observed {status.get('observedGeneration', 'never')}",
        "conditions:",
    ]
    for condition in status.get("conditions", []):
        message = f": {condition['message']}" if condition.get("message") else ""
        lines.append(f"  {condition['type']:<22} {condition['status']:<7} {condition['reason']}{message}")
    pending = status.get("pendingChange")
    if pending:
        lines.append(
            f"pending change {pending['hash']} "
            f"(generation {pending['generation']}, since {pending['since']}):"
        )
        lines += [f"  {line}" for line in pending.get("summary", [])]
        lines.append(
            f"  approve: kubectl techsapo approve {metadata['name']} -n {metadata['namespace']} "
            f"--hash {pending['hash']}"
        )
    approved = status.get("approved")
    if approved:
        lines.append(
            f"approved: {approved['hash']} (generation {approved['generation']}) by "
            f"{approved['approvedBy']} at {approved['approvedAt']}"
        )
    lines.append("children:")
    for child in sorted(children, key=lambda c: (c["kind"], c["metadata"]["name"])):
        lines.append(f"  {child['kind']:<24} {child['metadata']['name']}")
    return "\n".join(lines)


async def status(api: kubeapi.Api, target: Target) -> str:
    body = await api.get(kinds.TECHSAPO, target.namespace, target.name)
    if body is None:
        raise AdminError(f"TechSapo {target.namespace}/{target.name} does not exist")
    selector = f"{meta.INSTANCE_LABEL}={target.name},{meta.MANAGED_BY_LABEL}={meta.MANAGED_BY}"
    children = []
    for kind in kinds.CHILDREN:
        children += await api.list(kind, namespace=target.namespace, label_selector=selector)
    return describe(body, children)
