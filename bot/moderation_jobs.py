"""A guild's jobs as moderators see them (`/mjadmin jobs`) and stopping one (`/mjadmin cancel`):
`ModerationService` checks the moderator and audits, `GuildJobs` does the work."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.errors import UserFacingError
from bot.members import Located, locate
from bot.midjourney.errors import MidjourneyError
from bot.render import MAX_JOB_ID
from bot.tracker import TERMINAL_STATES
from storage.jobs import JobRecord, JobRepository
from storage.usage import UsageRepository

log = logging.getLogger(__name__)

CANCELLED_BY_MODERATOR = "mjbot:job.failure.cancelled_by_moderator"
JOBS_SHOWN = 15


class TaskCanceller(Protocol):
    """The part of the API client a cancel needs."""

    async def cancel(self, task_id: str) -> bool: ...


class FollowedTasks(Protocol):
    """The part of the tracker a cancel needs."""

    def unfollow(self, task_id: str) -> None: ...


# One job in the moderators' list, with the message that shows it (if it was posted).
JobLine = Located


@dataclass(frozen=True)
class JobsOverview:
    in_flight: tuple[JobLine, ...]
    recent: tuple[JobLine, ...]


class GuildJobs:
    """The jobs of a guild the moderator was already checked for."""

    def __init__(
        self,
        jobs: JobRepository,
        usage: UsageRepository,
        tracker: FollowedTasks,
        api: TaskCanceller,
    ) -> None:
        self._jobs = jobs
        self._usage = usage
        self._tracker = tracker
        self._api = api

    async def overview(self, guild_id: int) -> JobsOverview:
        running = (await self._jobs.jobs_in_flight(guild_id))[:JOBS_SHOWN]
        running_ids = {job.id for job in running}
        recent = [
            job
            for job in await self._jobs.recent_jobs(guild_id, limit=JOBS_SHOWN + len(running_ids))
            if job.id not in running_ids
        ][:JOBS_SHOWN]
        return JobsOverview(
            tuple([await self._line(job) for job in running]),
            tuple([await self._line(job) for job in recent]),
        )

    async def _line(self, job: JobRecord) -> JobLine:
        return await locate(self._jobs, job)

    async def cancel(self, guild_id: int, job_id: int) -> tuple[JobRecord, bool]:
        """Stop following a job, mark it cancelled, refund it, and ask the proxy to drop it.

        Returns the job as it was before, and whether the proxy said it dropped the task."""
        # Discord enforces the option's range, discord.py does not: a forged id stops here.
        job = await self._jobs.get(job_id) if 1 <= job_id <= MAX_JOB_ID else None
        if job is None or job.guild_id != guild_id:
            raise UserFacingError("admin.jobs.not_found", job=job_id)
        if job.state in TERMINAL_STATES:
            raise UserFacingError("admin.jobs.finished", job=job_id)
        if job.state == "submitting":
            # Its one submit is on the way; cancelling now could not stop the proxy's task.
            raise UserFacingError("admin.jobs.submitting", job=job_id)
        if not await self._jobs.cancel(job_id, CANCELLED_BY_MODERATOR):
            raise UserFacingError("admin.jobs.finished", job=job_id)
        if job.task_id is not None:
            self._tracker.unfollow(job.task_id)
        await self._usage.refund(job_id)
        return job, await self._cancel_at_proxy(job)

    async def _cancel_at_proxy(self, job: JobRecord) -> bool:
        if job.task_id is None:
            return False
        try:
            return await self._api.cancel(job.task_id)
        except MidjourneyError as exc:
            # The job is cancelled for the bot either way; the proxy may still finish it.
            log.warning("the proxy did not cancel task %s of job %s: %s", job.task_id, job.id, exc)
            return False
