"""A work queue of instance keys, as controllers keep one: each key is queued at most once, handled
by one worker at a time, and re-queued if it changed while being handled."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

from techsapo_operator import metrics

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._waiting: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: K) -> None:
        """Queue the key, unless it waits already; if it is being handled, handle it again after."""
        if key in self._waiting:
            return
        if key in self._active:
            self._dirty.add(key)
            return
        self._waiting.add(key)
        self._queue.put_nowait(key)
        metrics.QUEUE_DEPTH.set(len(self._waiting))

    def add_after(self, key: K, delay: float) -> None:
        """Queue the key after a delay; an earlier pending delay for it is replaced."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key)

    def delayed(self, key: K) -> bool:
        """Whether the key waits for a delayed add (a retry with backoff)."""
        return key in self._timers

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> K:
        key = await self._queue.get()
        self._waiting.discard(key)
        self._active.add(key)
        metrics.QUEUE_DEPTH.set(len(self._waiting))
        return key

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
