"""The storage quota check on the rendered Redis volumes."""

from __future__ import annotations

from typing import Any

from techsapo_operator import kinds, quotas, rendering
from tests import examples


def quota(hard: dict[str, str], used: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "storage", "namespace": "techsapo-staging"},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used or {}},
    }


def absent(_: kinds.ObjectKey) -> None:
    return None


def test_six_new_volumes_of_2gi_need_12gi_and_the_message_says_what_to_do() -> None:
    desired = rendering.render(examples.techsapo("staging"))
    found = quotas.shortfalls(
        desired, [quota({"requests.storage": "20Gi"}, {"requests.storage": "10Gi"})], absent
    )
    assert found == [
        "ResourceQuota storage in namespace techsapo-staging: "
        "the Redis volumes need 12Gi of requests.storage, but only 10Gi of 20Gi is left; "
        "raise the quota, or lower spec.redis.storage.size"
    ]


def test_enough_room_or_no_storage_quota_finds_nothing() -> None:
    desired = rendering.render(examples.techsapo("staging"))
    assert quotas.shortfalls(desired, [quota({"requests.storage": "12Gi"})], absent) == []
    assert quotas.shortfalls(desired, [quota({"count/deployments.apps": "1"})], absent) == []


def test_the_number_of_claims_counts_too() -> None:
    desired = rendering.render(examples.techsapo("staging"))
    found = quotas.shortfalls(desired, [quota({"persistentvolumeclaims": "4"})], absent)
    assert len(found) == 1
    assert "need 6 of persistentvolumeclaims, but only 4 of 4 is left" in found[0]


def test_an_existing_stateful_set_has_its_claims_already() -> None:
    desired = rendering.render(examples.techsapo("staging"))
    existing = {kinds.ObjectKey.of(c): c for c in desired}
    assert quotas.shortfalls(desired, [quota({"requests.storage": "1Gi"})], existing.get) == []


def test_an_instance_without_volumes_needs_no_room() -> None:
    desired = rendering.render(examples.techsapo("dev"))
    assert quotas.shortfalls(desired, [quota({"requests.storage": "0"})], absent) == []
