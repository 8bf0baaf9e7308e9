"""Small helpers for integration tests: waiting with a bound, and reading objects."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import exceptions


def wait_for(predicate: Callable[[], Any], *, what: str, timeout: float = 60, interval: float = 0.25) -> Any:
    """Poll until predicate returns something truthy, and return it; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last seen: {last!r})")


def exists(read: Callable[[], Any]) -> bool:
    """Whether the read finds the object; False on 404."""
    try:
        read()
    except exceptions.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
