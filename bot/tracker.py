"""One batched poller that follows every running job at the proxy until it ends or times out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.midjourney.errors import APIStatusError, MidjourneyError
from bot.midjourney.models import Task
from storage.jobs import JobRecord, JobRepository
from storage.records import JobButton, JobState

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"success", "failure", "cancelled", "unknown"})
_STATUS_TO_STATE: dict[str, JobState] = {
    "NOT_START": "submitted",
    "SUBMITTED": "submitted",
    "IN_PROGRESS": "in_progress",
    "MODAL": "modal",
    "SUCCESS": "success",
    "FAILURE": "failure",
    "CANCEL": "cancelled",
}
_MAX_BACKOFF_FACTOR = 16
# After this many failed polls in a row the job messages say the proxy is not answering.
OUTAGE_AFTER = 3
# Answers that mean "no batch endpoint here" (not found, method not allowed, not implemented).
_NO_BATCH_STATUSES = frozenset({404, 405, 501})


class TaskSource(Protocol):
    """What the tracker needs of the API client."""

    async def list_by_condition(self, ids: Sequence[str]) -> list[Task]: ...

    async def fetch(self, task_id: str) -> Task | None: ...


JobListener = Callable[[JobRecord], Awaitable[None]]


@dataclass
class _Followed:
    job_id: int
    task_id: str
    deadline: float
    state: JobState


def state_of(task: Task) -> JobState | None:
    """Our job state for a proxy status; None while the proxy does not know yet."""
    return _STATUS_TO_STATE.get(task.status) if task.status else None


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
    ) -> None:
        self._api = api
        self._jobs = jobs
        self._interval = interval
        self._batch_size = batch_size
        self._timeout = timeout_seconds
        self._clock = clock
        self._followed: dict[str, _Followed] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._batch_supported = True
        self._failures = 0
        self.listener: JobListener | None = None
        self.polls = 0

    @property
    def consecutive_failures(self) -> int:
        """Failed poll cycles in a row; each one doubles the wait (capped)."""
        return self._failures

    @property
    def followed_task_ids(self) -> list[str]:
        return list(self._followed)

    def deadline_for(self, job: JobRecord) -> float:
        return job.deadline_at if job.deadline_at else job.created_at + self._timeout

    def follow(self, job: JobRecord) -> None:
        """Start (or keep) following a job that has a proxy task id."""
        if job.task_id is None or job.state in TERMINAL_STATES:
            return
        self._followed[job.task_id] = _Followed(
            job.id, job.task_id, self.deadline_for(job), job.state
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

    async def _run(self) -> None:
        while True:
            delay = self._interval * min(2**self._failures, _MAX_BACKOFF_FACTOR)
            if self._followed:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
            else:
                await self._wake.wait()
            self._wake.clear()
            try:
                await self.poll_once()
            except Exception:
                log.exception("poll cycle failed")

    async def poll_once(self) -> None:
        """One cycle: read every followed task, apply changes, enforce deadlines."""
        self.polls += 1
        ids = list(self._followed)
        try:
            tasks = await self._read(ids)
        except MidjourneyError as exc:
            self._failures += 1
            log.warning("polling %d tasks failed (%s); backing off", len(ids), exc)
            tasks = []
            if self._failures == OUTAGE_AFTER:
                await self._outage_changed(True)
        else:
            was_down, self._failures = self.outage, 0
            if was_down:
                await self._outage_changed(False)
        for task in tasks:
            followed = self._followed.get(task.id)
            if followed is not None:
                await self._apply(followed, task)
        await self._enforce_deadlines()

    async def _read(self, ids: list[str]) -> list[Task]:
        tasks: list[Task] = []
        for start in range(0, len(ids), self._batch_size):
            chunk = ids[start : start + self._batch_size]
            missing = chunk
            if self._batch_supported:
                try:
                    found = await self._api.list_by_condition(chunk)
                except APIStatusError as exc:
                    if exc.status_code not in _NO_BATCH_STATUSES:
                        raise
                    log.info("the proxy has no list-by-condition; fetching tasks one by one")
                    self._batch_supported = False
                else:
                    tasks.extend(found)
                    # Some relays list only part of the ids (e.g. other keys' tasks): ask for
                    # the rest one by one rather than let them wait for their deadline.
                    returned = {task.id for task in found}
                    missing = [task_id for task_id in chunk if task_id not in returned]
            for task_id in missing:
                task = await self._api.fetch(task_id)
                if task is not None:
                    tasks.append(task)
        return tasks

    async def _apply(self, followed: _Followed, task: Task) -> None:
        state = state_of(task)
        if state is None:
            return
        job_id = followed.job_id
        if state in TERMINAL_STATES:
            self.unfollow(followed.task_id)
            buttons = [
                JobButton(b.custom_id, b.label or "", b.emoji or "", b.style or 2)
                for b in task.buttons
                if b.custom_id
            ]
            failure = None
            if state != "success":
                failure = (task.fail_reason or "").strip() or None
            await self._jobs.complete(
                job_id,
                state=state,
                image_url=task.image_url if state == "success" else None,
                buttons=buttons if state == "success" else [],
                final_prompt=task.final_prompt or task.prompt_en or None,
                failure=failure,
            )
            log.info("job %s (task %s) ended: %s", job_id, task.id, state)
        else:
            if state == "submitted" and followed.state == "queued":
                return  # the proxy says "not started": keep showing the queue position
            followed.state = state
            changed = await self._jobs.update_progress(
                job_id,
                state=state,
                progress=task.progress_pct,
                status_text=task.progress_text or None,
                preview_url=task.image_url if state == "in_progress" else None,
                queue_position=None,
            )
            if not changed:
                return
        await self._notify(job_id)

    async def _enforce_deadlines(self) -> None:
        now = self._clock()
        for followed in [f for f in self._followed.values() if f.deadline <= now]:
            self.unfollow(followed.task_id)
            await self._jobs.complete(
                followed.job_id,
                state="failure",
                image_url=None,
                buttons=[],
                final_prompt=None,
                failure="mjbot:job.failure.timeout",
            )
            log.warning("job %s (task %s) timed out", followed.job_id, followed.task_id)
            await self._notify(followed.job_id)

    @property
    def outage(self) -> bool:
        """The proxy has not answered the last few polls."""
        return self._failures >= OUTAGE_AFTER

    async def _outage_changed(self, down: bool) -> None:
        log.warning("the proxy %s", "is not answering polls" if down else "answers again")
        for followed in list(self._followed.values()):
            await self._notify(followed.job_id)

    async def _notify(self, job_id: int) -> None:
        if self.listener is None:
            return
        job = await self._jobs.get(job_id)
        if job is not None:
            await self.listener(job)
