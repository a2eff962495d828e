"""Reading followed tasks from the proxy for the tracker: list-by-condition in chunks; single
fetches for what a batch leaves out, or for everything while the batch route is refused."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.midjourney.errors import (
    APIConnectionError,
    MidjourneyError,
    NotFoundError,
    RateLimitError,
)
from bot.midjourney.models import Task

log = logging.getLogger("bot.tracker")

# After the batch route failed while single fetches worked, try the batch again this much later.
BATCH_RETRY_SECONDS = 300.0
# A single task's fetch: no retries (the next cycle is the retry), a short timeout, a few at once.
FETCH_TIMEOUT_SECONDS = 10.0
FETCH_CONCURRENCY = 8


class TaskSource(Protocol):
    """What the tracker needs of the API client."""

    async def list_by_condition(self, ids: Sequence[str]) -> list[Task]: ...

    async def fetch(
        self, task_id: str, *, retries: int | None = None, read_timeout: float | None = None
    ) -> Task | None: ...


@dataclass
class Read:
    tasks: list[Task] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # to fetch one by one
    error: MidjourneyError | None = None  # a batch call failed: the cycle failed
    batch_answered: bool = False


class TaskReads:
    """The tracker's reads of one proxy, and whether its batch route is refused for now."""

    def __init__(
        self,
        api: TaskSource,
        batch_size: int,
        clock: Callable[[], float] = time.time,
        *,
        on_fetch_error: Callable[[str, MidjourneyError], None] = lambda task_id, error: None,
    ) -> None:
        self._api = api
        self._batch_size = batch_size
        self._clock = clock
        self._on_fetch_error = on_fetch_error
        self.batch_retry_at: float | None = None  # set while the batch route is refused

    def use_batch(self) -> bool:
        return self.batch_retry_at is None or self._clock() >= self.batch_retry_at

    async def read(self, ids: list[str]) -> Read:
        """Read `ids` in batches; what a batch left out (or all, while refused) is `missing`."""
        read = Read()
        for start in range(0, len(ids), self._batch_size):
            chunk = ids[start : start + self._batch_size]
            if not self.use_batch():
                read.missing.extend(chunk)
                continue
            try:
                found = await self._api.list_by_condition(chunk)
            except MidjourneyError as exc:
                if not await self._batch_route_refused(exc, chunk[0]):
                    read.error = exc  # the service itself failed: keep what was read
                    return read
                read.missing.extend(chunk)
                continue
            if self.batch_retry_at is not None:
                log.info("list-by-condition answers again; polling in batches")
                self.batch_retry_at = None
            read.batch_answered = True
            read.tasks.extend(found)
            # Some relays list only part of the ids (e.g. other keys' tasks): ask for the rest
            # one by one rather than let them wait for their deadline.
            returned = {task.id for task in found}
            read.missing.extend(task_id for task_id in chunk if task_id not in returned)
        return read

    async def _batch_route_refused(self, error: MidjourneyError, probe_id: str) -> bool:
        """The batch call failed: is it the route (a single fetch works) or the service?"""
        if isinstance(error, APIConnectionError | RateLimitError):
            return False  # not answering, or "slow down": another request would not help
        try:
            await self._api.fetch(probe_id, retries=0, read_timeout=FETCH_TIMEOUT_SECONDS)
        except MidjourneyError:
            return False
        log.info(
            "list-by-condition failed (%s) while fetch works: fetching tasks one by one, "
            "trying the batch again in %.0f s",
            error,
            BATCH_RETRY_SECONDS,
        )
        self.batch_retry_at = self._clock() + BATCH_RETRY_SECONDS
        return True

    async def fetch_each(
        self, task_ids: list[str]
    ) -> tuple[list[Task], list[str], MidjourneyError | None]:
        """Fetch tasks one by one (a few at once): found, unknown to the proxy, an error seen."""
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(task_id: str) -> Task | MidjourneyError | None:
            async with limit:
                try:
                    return await self._api.fetch(
                        task_id, retries=0, read_timeout=FETCH_TIMEOUT_SECONDS
                    )
                except NotFoundError:
                    return None
                except MidjourneyError as exc:
                    self._on_fetch_error(task_id, exc)
                    return exc

        answers = await asyncio.gather(*(one(task_id) for task_id in task_ids))
        found: list[Task] = []
        unknown: list[str] = []
        error: MidjourneyError | None = None
        for task_id, answer in zip(task_ids, answers, strict=True):
            if isinstance(answer, Task):
                found.append(answer)
            elif answer is None:
                unknown.append(task_id)
            else:
                error = error or answer
        return found, unknown, error
