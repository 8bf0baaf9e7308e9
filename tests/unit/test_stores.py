"""The stores' re-list: what a list lacks is forgotten, unless a watch brought it in after the list."""

from __future__ import annotations

from typing import Any

from techsapo_operator import stores
from techsapo_operator.kinds import ObjectKey


def config_map(name: str, version: int, namespace: str = "a") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(version), "uid": name},
    }


def test_a_re_list_forgets_what_was_deleted_meanwhile_and_keeps_what_is_newer() -> None:
    store = stores.Store()
    for body in (
        config_map("deleted", 5),
        config_map("kept", 6),
        config_map("newer", 12),
        config_map("b", 3, "b"),
    ):
        store.upsert(body)
    gone = store.replace("ConfigMap", "a", [config_map("kept", 6), config_map("added", 9)], version="10")
    assert gone == [ObjectKey("ConfigMap", "a", "deleted")]
    names = sorted(body["metadata"]["name"] for body in store.all())
    assert names == ["added", "b", "kept", "newer"]  # "newer" came after the list; "b" is elsewhere


def test_a_re_list_of_all_namespaces_covers_all_of_them() -> None:
    store = stores.Store()
    store.upsert(config_map("x", 2, "b"))
    assert store.replace("ConfigMap", None, [], version="10") == [ObjectKey("ConfigMap", "b", "x")]
    assert len(store) == 0
