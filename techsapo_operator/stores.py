"""In-memory copies of what the watches saw: the TechSapos, and the children the operator owns.

The reconcile reads from here instead of the API server, so a reconcile that changes nothing
makes no request at all. The watches keep the copies fresh; the reconcile puts in what its own
writes returned, so it never acts on a copy older than its last write.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from techsapo_operator.kinds import ObjectKey


def _resource_version(body: dict[str, Any]) -> int:
    # Opaque by contract, an etcd revision in practice: it lets a late list or a replayed event
    # not overwrite a newer copy. A non-numeric version always wins.
    value = body.get("metadata", {}).get("resourceVersion", "")
    return int(value) if str(value).isdigit() else 1 << 62


def controller_uid(body: dict[str, Any]) -> str | None:
    """The uid of the object's controller owner, if it has one."""
    for reference in body.get("metadata", {}).get("ownerReferences", []):
        if reference.get("controller"):
            uid: str = reference["uid"]
            return uid
    return None


class Store:
    """Objects by key, with an index of objects by their controller's uid."""

    def __init__(self) -> None:
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._by_owner: defaultdict[str, set[ObjectKey]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._objects)

    def upsert(self, body: dict[str, Any]) -> None:
        key = ObjectKey.of(body)
        current = self._objects.get(key)
        if current is not None and _resource_version(current) > _resource_version(body):
            return
        if current is not None:
            self._unindex(key, current)
        self._objects[key] = body
        owner = controller_uid(body)
        if owner:
            self._by_owner[owner].add(key)

    def remove(self, body: dict[str, Any]) -> None:
        key = ObjectKey.of(body)
        current = self._objects.get(key)
        if current is None:
            return
        uid = body.get("metadata", {}).get("uid")
        if uid and current["metadata"].get("uid") != uid:
            return  # a newer object of the same name replaced it
        del self._objects[key]
        self._unindex(key, current)

    def replace(
        self, kind: str, namespace: str | None, bodies: list[dict[str, Any]], *, version: str
    ) -> list[ObjectKey]:
        """Make the store hold what a list at resource version ``version`` returned for this kind (in
        namespace, or in all): add what it lists, and forget what it lacks unless a watch brought that
        in after the list was taken. Returns the keys forgotten."""
        listed = {ObjectKey.of(body) for body in bodies}
        taken_at = _resource_version({"metadata": {"resourceVersion": version}})
        gone = [
            key
            for key, current in self._objects.items()
            if key.kind == kind
            and (namespace is None or key.namespace == namespace)
            and key not in listed
            and _resource_version(current) <= taken_at
        ]
        for key in gone:
            self.forget(key)
        for body in bodies:
            self.upsert(body)
        return gone

    def forget(self, key: ObjectKey) -> None:
        current = self._objects.pop(key, None)
        if current is not None:
            self._unindex(key, current)

    def _unindex(self, key: ObjectKey, body: dict[str, Any]) -> None:
        owner = controller_uid(body)
        if owner and owner in self._by_owner:
            self._by_owner[owner].discard(key)
            if not self._by_owner[owner]:
                del self._by_owner[owner]

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self._objects.get(key)

    def owned_by(self, uid: str) -> list[dict[str, Any]]:
        return [self._objects[key] for key in sorted(self._by_owner.get(uid, ()))]

    def all(self) -> list[dict[str, Any]]:
        return list(self._objects.values())
