"""When the controller acts: at once, or only while this replica leads; and what stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from techsapo_operator import kubeapi, leadership, reconciling

logger = logging.getLogger(__name__)

PRIME_RETRY_SECONDS = 5


class Lifecycle:
    """Starts the controller when this replica may act; on lost leadership stops it and sets ``stopped``.

    The watches feed the stores of a standby too, so that it takes over with a warm cache; it
    only starts its workers, and so writes, once it leads.
    """

    def __init__(
        self,
        controller: reconciling.Controller,
        namespaces: Sequence[str],
        elector: leadership.LeaderElector | None = None,
    ) -> None:
        self.controller = controller
        self.namespaces = list(namespaces)
        self.elector = elector
        self.stopped = asyncio.Event()
        self.leadership_lost = False
        self._leading: asyncio.Task[None] | None = None
        self._acting = False

    async def start(self) -> None:
        if self.elector is None:
            await self._act()
        else:
            self._leading = asyncio.create_task(self._lead(self.elector), name="leader-election")

    async def stop(self) -> None:
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
        await self.controller.stop()
        if self.elector is not None and self._acting and not self.leadership_lost:
            await self.elector.release()

    def healthy(self) -> bool:
        """A standby is healthy while it waits; a leader while its workers run."""
        return not self._acting or self.controller.alive()

    async def _act(self) -> None:
        """Fill the stores, then start the workers; a failing list is retried, not fatal."""
        while True:
            try:
                await self.controller.prime(self.namespaces or [None])
                break
            except kubeapi.ApiError as error:
                logger.warning("could not list the instances and children (%s); retrying", error)
                await asyncio.sleep(PRIME_RETRY_SECONDS)
        self.controller.start()
        self._acting = True

    async def _lead(self, elector: leadership.LeaderElector) -> None:
        await elector.acquire()
        holding = asyncio.create_task(elector.hold(), name="leader-renewal")
        acting = asyncio.create_task(self._act(), name="start-acting")
        try:
            await holding
        finally:
            acting.cancel()
            holding.cancel()
        # Lost: stop writing now, before another replica may take over, then end the process.
        self.leadership_lost = True
        await self.controller.stop()
        self.stopped.set()
