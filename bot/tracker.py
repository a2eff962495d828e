"""One batched poller that follows every running job at the proxy until it ends or times out.

Each cycle reads every followed task (list-by-condition in chunks; single fetches for what a
batch leaves out, or for everything while the batch route is refused), then writes only what
changed, in one transaction, and stops following a job only once its end is committed. One
task's error touches only that task; only a failed batch call (or, without one, every fetch
failing) fails the cycle, and `ProxyHealth` says what that failure means to members.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bot.job_updates import (
    FINISHING_READS,
    TERMINAL_STATES,
    Followed,
    JobUpdate,
    Seen,
    failure_update,
    next_poll,
    plan_update,
    state_of,
)
from bot.midjourney.errors import MidjourneyError
from bot.midjourney.models import Task
from bot.proxy_health import ProxyHealth
from bot.task_reads import BATCH_RETRY_SECONDS, TaskReads, TaskSource
from storage.db import StorageError
from storage.jobs import JobRecord, JobRepository

__all__ = ["BATCH_RETRY_SECONDS", "TERMINAL_STATES", "TaskSource", "Tracker", "state_of"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_FACTOR = 16
# After this many failed polls in a row the job messages say the proxy is not answering.
OUTAGE_AFTER = 3
# How long a task may be unknown to the proxy (absent from the batch, fetch says "no such
# task") before its job fails: a relay may list a fresh task only after its next refresh.
UNKNOWN_GRACE_SECONDS = 120.0
# At most one early poll (notifyHook callback, new job) per this many seconds.
WAKE_GAP_SECONDS = 1.0


JobListener = Callable[[JobRecord], Awaitable[None]]


class Tracker:
    """Polls all followed tasks with list-by-condition (chunked), falling back to fetch."""

    def __init__(
        self,
        api: TaskSource,
        jobs: JobRepository,
        *,
        interval: float,
        batch_size: int,
        timeout_seconds: float,
        clock: Callable[[], float] = time.time,
        unknown_grace: float = UNKNOWN_GRACE_SECONDS,
        wake_gap: float = WAKE_GAP_SECONDS,
        finishing_interval: float | None = None,
    ) -> None:
        self._reads = TaskReads(api, batch_size, clock, on_fetch_error=self._fetch_failed)
        self._jobs = jobs
        self._interval = interval
        self._timeout = timeout_seconds
        self._clock = clock
        self._unknown_grace = unknown_grace
        self._wake_gap = min(wake_gap, interval)
        self._finishing_interval = finishing_interval or interval / FINISHING_READS
        self._followed: dict[str, Followed] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.health = ProxyHealth()
        self.listener: JobListener | None = None
        self.polls = 0
        self.transactions = 0  # committed write transactions (one per cycle that changed jobs)

    @property
    def consecutive_failures(self) -> int:
        """Failed poll cycles in a row; each one doubles the wait (capped)."""
        return self.health.failures

    @property
    def followed_task_ids(self) -> list[str]:
        return list(self._followed)

    @property
    def outage(self) -> bool:
        """The proxy has not answered the last few polls, or only with errors."""
        return self.health.condition in ("not_answering", "failing")

    def deadline_for(self, job: JobRecord) -> float:
        return job.deadline_at if job.deadline_at else job.created_at + self._timeout

    def follow(self, job: JobRecord) -> None:
        """Start (or keep) following a job that has a proxy task id."""
        if job.task_id is None or job.state in TERMINAL_STATES:
            return
        seen: Seen = (job.state, job.progress, job.status_text, job.preview_url)
        self._followed[job.task_id] = Followed(
            job.id, job.task_id, self.deadline_for(job), job.state, job.guild_id, seen
        )
        self._wake.set()

    def unfollow(self, task_id: str) -> None:
        self._followed.pop(task_id, None)

    def wake(self, task_id: str | None = None) -> None:
        """Poll early (a notifyHook callback or a new submit); unknown ids are ignored."""
        if task_id is None or task_id in self._followed:
            self._wake.set()

    async def resume(self) -> list[JobRecord]:
        """Follow every unfinished job recorded in the database; return them."""
        jobs = await self._jobs.unfinished()
        for job in jobs:
            self.follow(job)
        return jobs

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mjbot-tracker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def next_delay(self) -> float:
        """The wait before the next cycle: backoff on failures, slow while only a moderator can
        help, never shorter than a Retry-After the service asked for."""
        factor = min(2.0**self.health.failures, _MAX_BACKOFF_FACTOR)
        if self.health.slow:
            factor = _MAX_BACKOFF_FACTOR
        return max(self._interval * factor, self.health.retry_after or 0.0)

    def next_poll(self, since_full: float, since_any: float) -> tuple[float, list[str] | None]:
        """The wait before the next poll and what it reads (None: every followed task). While
        the proxy answers, finishing tasks are read again between full cycles."""
        healthy = self.health.failures == 0 and not self.health.slow
        return next_poll(
            self._followed.values(),
            since_full=since_full,
            since_any=since_any,
            full_delay=self.next_delay(),
            finishing_delay=self._finishing_interval if healthy else None,
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_poll = float("-inf")
        ended = ended_full = loop.time()  # when the last poll (of any kind / full) ended
        while True:
            ids: list[str] | None = None
            if self._followed:
                delay, ids = self.next_poll(loop.time() - ended_full, loop.time() - ended)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
                else:
                    # Woken early: callbacks arriving meanwhile are merged into one full poll.
                    ids = None
                    gap = self._wake_gap - (loop.time() - last_poll)
                    if gap > 0:
                        await asyncio.sleep(gap)
            else:
                await self._wake.wait()
            self._wake.clear()
            last_poll = loop.time()
            try:
                await (self.poll_once() if ids is None else self.poll_finishing(ids))
            except Exception:
                log.exception("poll cycle failed")
            ended = loop.time()
            if ids is None:
                ended_full = ended

    # ---- one cycle ---------------------------------------------------------------------------
    async def poll_once(self) -> None:
        """One cycle: read every followed task, write what changed, enforce deadlines."""
        await self._poll(list(self._followed), full=True)

    async def poll_finishing(self, task_ids: Sequence[str]) -> None:
        """Read only these (finishing) tasks; write only the ends it finds (progress waits for
        the next full cycle)."""
        await self._poll([i for i in task_ids if i in self._followed], full=False)

    async def _poll(self, task_ids: list[str], *, full: bool) -> None:
        self.polls += 1
        read = await self._reads.read(task_ids)
        writes = self._plans(read.tasks, ends_only=not full)
        if read.missing:
            await self._commit(writes)  # what the batch read is not held up by single fetches
            found, unknown, error = await self._reads.fetch_each(read.missing)
            if read.error is None and not read.batch_answered and not found and not unknown:
                read.error = error  # no batch at all and every fetch failed
            writes = self._plans(found, ends_only=not full) + self._unknown(unknown)
        writes += self._overdue({w.followed.task_id for w in writes})
        await self._judge(read.error)  # first: the jobs written next show the current notice
        await self._commit(writes)

    def _fetch_failed(self, task_id: str, error: MidjourneyError) -> None:
        followed = self._followed.get(task_id)
        if followed is not None:
            followed.fetch_errors += 1
            if followed.fetch_errors == 1:
                log.warning("task %s cannot be fetched (%s)", task_id, error)

    def _plans(self, tasks: Iterable[Task], *, ends_only: bool = False) -> list[JobUpdate]:
        writes = []
        for task in tasks:
            followed = self._followed.get(task.id)
            if followed is None:
                continue
            followed.missing_since, followed.fetch_errors = None, 0
            write = plan_update(followed, task)
            if write is not None and (write.ends or not ends_only):
                writes.append(write)
        return writes

    def _unknown(self, task_ids: list[str]) -> list[JobUpdate]:
        """Tasks the proxy says it does not know: their jobs fail after a grace period."""
        now = self._clock()
        writes = []
        for task_id in task_ids:
            followed = self._followed.get(task_id)
            if followed is None:
                continue
            if followed.missing_since is None:
                followed.missing_since = now
                log.warning("the proxy does not know task %s (job %s)", task_id, followed.job_id)
            elif now - followed.missing_since >= self._unknown_grace:
                writes.append(failure_update(followed, "mjbot:proxy.failure.unknown_task"))
        return writes

    def _overdue(self, skip: set[str]) -> list[JobUpdate]:
        now = self._clock()
        return [
            failure_update(f, "mjbot:job.failure.timeout")
            for f in self._followed.values()
            if f.deadline <= now and f.task_id not in skip
        ]

    async def _commit(self, writes: list[JobUpdate]) -> bool:
        """Write the cycle's changes in one transaction; unfollow ended jobs only afterwards."""
        if not writes:
            return True
        writes.sort(key=lambda write: not write.ends)  # ends first: finals are told first
        try:
            async with self._jobs.db.transaction():
                changed = [await self._write(w) for w in writes]
        except StorageError as exc:
            await self._storage_failed(writes, exc)
            return False
        self.transactions += 1
        recovered, self.health.storage_failing = self.health.storage_failing, False
        if recovered:
            log.warning("job updates are saved again")
        told: list[int] = []
        for write, did_change in zip(writes, changed, strict=True):
            followed = write.followed
            if write.ends:
                self.unfollow(followed.task_id)
                log.info(
                    "job %s (task %s) ended: %s (%s)",
                    followed.job_id,
                    followed.task_id,
                    write.fields["state"],
                    write.fields["failure"] or "-",
                )
            else:
                followed.state, followed.seen = write.fields["state"], write.seen
            if did_change:
                told.append(followed.job_id)
        await self._notify(*told)
        if recovered:
            await self._notify_all()  # the storage notice goes away
        return True

    async def _write(self, write: JobUpdate) -> bool:
        job_id = write.followed.job_id
        if write.ends:
            return await self._jobs.complete(job_id, **write.fields)
        return await self._jobs.update_progress(job_id, **write.fields)

    async def _storage_failed(self, writes: list[JobUpdate], error: Exception) -> None:
        """Nothing was committed: keep following; the next cycle writes it again."""
        first = not self.health.storage_failing
        self.health.storage_failing = True
        level = logging.ERROR if first else logging.WARNING
        log.log(
            level,
            "could not save %d job updates (%s); retrying on the next poll",
            len(writes),
            error,
        )
        if first:
            await self._notify(*(write.followed.job_id for write in writes))

    async def _judge(self, error: MidjourneyError | None) -> None:
        """Tell the health what this cycle came to; tell members when that changes."""
        if error is None:
            if self.health.answered():
                await self._notify_all()
            return
        log.warning("polling %d tasks failed (%s); backing off", len(self._followed), error)
        if self.health.failed(error):
            await self._notify_all()
        await self.health.tell_moderators(f.guild_id for f in self._followed.values())

    async def _notify_all(self) -> None:
        await self._notify(*(followed.job_id for followed in list(self._followed.values())))

    async def _notify(self, *job_ids: int) -> None:
        """Tell the listener, in this order; the records are all read first (one queue of
        reads, not one read per listener call among everything else the loop does)."""
        if self.listener is None or not job_ids:
            return
        for job in await asyncio.gather(*(self._jobs.get(job_id) for job_id in job_ids)):
            if job is not None:
                await self.listener(job)
