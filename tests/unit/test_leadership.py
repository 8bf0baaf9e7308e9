"""Leader election's timing rules."""

from __future__ import annotations

import pytest

from techsapo_operator import leadership


def test_the_renew_deadline_must_fall_between_the_retry_and_the_lease() -> None:
    assert leadership.Timing(lease_seconds=15, renew_deadline_seconds=10, retry_seconds=2)
    for lease, deadline, retry in ((10, 10, 2), (15, 2, 2), (15, 20, 2)):
        with pytest.raises(ValueError, match="retry < renew deadline < lease duration"):
            leadership.Timing(lease_seconds=lease, renew_deadline_seconds=deadline, retry_seconds=retry)
