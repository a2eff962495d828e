"""Data retention: finished jobs older than `storage.retention_days` are purged regularly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

DAY = 86_400.0
# How often the sweep runs; a purge works in short batches, so the bot never waits on it long.
SWEEP_INTERVAL = 6 * 3600.0


class Purgeable(Protocol):
    async def purge_finished_before(self, cutoff: float, *, batch_size: int = 500) -> int: ...


class UnusedPurgeable(Protocol):
    async def purge_unused(self) -> int: ...


class RetentionSweeper:
    """Runs `purge_finished_before(now - retention)` at start-up and then every few hours, then
    deletes the servers' proxies (and their keys) that neither a server nor a kept job uses."""

    def __init__(
        self,
        jobs: Purgeable,
        retention_days: int,
        *,
        proxies: UnusedPurgeable | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = SWEEP_INTERVAL,
    ) -> None:
        self._jobs = jobs
        self._proxies = proxies
        self._retention = retention_days * DAY
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._retention > 0

    async def sweep(self) -> int:
        """One purge; returns how many jobs went (0 when retention is off)."""
        if not self.enabled:
            return 0
        purged = await self._jobs.purge_finished_before(self._clock() - self._retention)
        if self._proxies is not None:
            await self._proxies.purge_unused()
        return purged

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="mjbot-retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("purging old jobs failed; will try again later")
            await asyncio.sleep(self._interval)  # a schedule, not a wait for an event
