"""What members do with their own jobs (/show, /history, ✉️, 🗑️, suffix and option sets) and
what moderators read about any job or member ("Job info", "Usage"). Plain values in and out."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.access import Gate, start_of_day
from bot.errors import UserFacingError
from bot.midjourney.errors import MidjourneyError
from bot.personal_prompts import OptionSets, parse_option_sets, parse_suffix
from bot.prompts import PromptError
from bot.requester import Requester
from storage.jobs import JobRecord, JobRepository, MessageRecord
from storage.usage import UsageRepository
from storage.users import UserSettingsRecord, UserSettingsRepository

PAGE_SIZE = 10
# Pages past this are refused (a custom_id or an option naming one is out of range).
MAX_PAGE = 100_000
CHOICES = 25
_CHOICE_SCAN = 100
DAY = 24 * 3600.0


@dataclass(frozen=True)
class Located:
    """A job and the message that shows it (None when it has none any more)."""

    job: JobRecord
    message: MessageRecord | None


async def locate(jobs: JobRepository, job: JobRecord) -> Located:
    """The job with the first message that shows it."""
    messages = await jobs.messages_for_job(job.id)
    return Located(job, messages[0] if messages else None)


@dataclass(frozen=True)
class HistoryPage:
    page: int  # 1-based
    pages: int
    total: int
    entries: tuple[Located, ...]


@dataclass(frozen=True)
class JobInfo:
    job: JobRecord
    message: MessageRecord | None
    parent: Located | None
    refunded: bool
    live: LiveAnswer | None = None  # the proxy asked now; None: not asked (no task id)


@dataclass(frozen=True)
class LiveAnswer:
    """What the job's proxy says of its task when a moderator asks: its answer as it gave it
    (None: it does not know the task), or why it could not be asked."""

    body: Any
    failed: str = ""


@dataclass(frozen=True)
class UsageReport:
    user_id: int
    today: float
    week: float
    jobs_today: int
    jobs_week: int
    quota: float | None  # None: no daily limit
    week_start: float


def start_of_week(now: float) -> float:
    """Weeks start on Monday, midnight UTC (like quotas, which reset at midnight UTC)."""
    day = start_of_day(now)
    weekday = dt.datetime.fromtimestamp(day, dt.UTC).weekday()
    return day - weekday * DAY


def parse_job_ref(text: str) -> int | None:
    """`42`, `#42` (our job number) or None; the caller also tries it as the proxy's task id."""
    value = text.strip().removeprefix("#")
    if value.isdigit() and len(value) <= 18:
        number = int(value)
        return number if number > 0 else None
    return None


class MemberService:
    def __init__(
        self,
        gate: Gate,
        jobs: JobRepository,
        usage: UsageRepository,
        users: UserSettingsRepository,
        *,
        max_prompt_length: int,
        read_task: Callable[[JobRecord], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._read_task = read_task  # ProxyRegistry.raw_task: the job's proxy, asked now
        self._gate = gate
        self._jobs = jobs
        self._usage = usage
        self._users = users
        self._max_prompt = max_prompt_length
        self._clock = clock

    # ---- a member's own jobs -------------------------------------------------------------
    async def choices(self, who: Requester, typed: str) -> list[JobRecord]:
        """/show's autocomplete: the member's finished jobs, newest first, matching `typed`."""
        if who.guild_id is None:
            return []
        newest = await self._jobs.jobs_page(who.guild_id, who.user_id, limit=_CHOICE_SCAN)
        needle = typed.strip().casefold().removeprefix("#")
        found = []
        for job in newest:
            if job.state != "success":
                continue
            if needle and needle not in f"{job.id} {job.final_prompt or job.prompt}".casefold():
                continue
            found.append(job)
        return found[:CHOICES]

    async def _own(self, who: Requester, job_id: int) -> JobRecord:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        job = await self._jobs.get(job_id)
        if job is None or job.guild_id != who.guild_id or job.requester_id != who.user_id:
            raise UserFacingError("members.show.not_found")
        return job

    async def job_to_show(self, who: Requester, ref: str) -> Located:
        """The member's finished job named by `ref` (our number or the proxy's task id)."""
        number = parse_job_ref(ref)
        if number is None:
            found = await self._jobs.get_by_task_id(ref.strip()) if ref.strip() else None
            number = found.id if found is not None else 0
        await self._gate.admit(who)
        job = await self._own(who, number)
        if job.state != "success":
            raise UserFacingError("members.show.not_finished")
        return await self.locate(job)

    async def locate(self, job: JobRecord) -> Located:
        return await locate(self._jobs, job)

    async def forget_message(self, message_id: int) -> None:
        """The message was deleted in Discord (the job stays, with its history)."""
        await self._jobs.forget_message(message_id)

    async def history(self, who: Requester, page: int) -> HistoryPage:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        if not 1 <= page <= MAX_PAGE:
            raise UserFacingError("members.history.no_page", page=page)
        total = await self._jobs.count_jobs(who.guild_id, who.user_id)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        jobs = await self._jobs.jobs_page(
            who.guild_id, who.user_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        entries = tuple([await self.locate(job) for job in jobs])
        return HistoryPage(page=page, pages=pages, total=total, entries=entries)

    async def job_for_dm(self, who: Requester, job_id: int) -> Located:
        """✉️: the member's own finished job."""
        job = await self._own_or_refuse(who, job_id, "members.dm.not_yours")
        if job.state != "success":
            raise UserFacingError("members.show.not_finished")
        return await self.locate(job)

    async def job_for_delete(self, who: Requester, job_id: int, message_id: int) -> JobRecord:
        """🗑️: only the job's member or a moderator, and only a message that shows this job."""
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        job = await self._jobs.get(job_id)
        owner = await self._jobs.get_message(message_id)
        if job is None or job.guild_id != who.guild_id or (owner and owner.job_id != job_id):
            raise UserFacingError("click.unknown_job")
        if job.requester_id != who.user_id and not who.can_manage_guild:
            raise UserFacingError("members.delete.not_yours", user=f"<@{job.requester_id}>")
        return job

    async def _own_or_refuse(self, who: Requester, job_id: int, key: str) -> JobRecord:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        job = await self._jobs.get(job_id)
        if job is None or job.guild_id != who.guild_id:
            raise UserFacingError("click.unknown_job")
        if job.requester_id != who.user_id:
            raise UserFacingError(key, user=f"<@{job.requester_id}>")
        return job

    # ---- moderators ------------------------------------------------------------------------
    def _moderator(self, who: Requester) -> int:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        if not who.can_manage_guild:
            raise UserFacingError("errors.not_allowed")
        return who.guild_id

    async def job_info(self, who: Requester, message_id: int) -> JobInfo:
        guild_id = self._moderator(who)
        job = await self._jobs.job_for_message(message_id)
        if job is None or job.guild_id != guild_id:
            raise UserFacingError("members.info.not_a_job")
        parent = None
        if job.parent_job_id is not None:
            found = await self._jobs.get(job.parent_job_id)
            parent = await self.locate(found) if found is not None else None
        return JobInfo(
            job=job,
            message=await self._jobs.get_message(message_id),
            parent=parent,
            refunded=job.state in ("failure", "cancelled", "unknown"),
            live=await self._ask_proxy(job),
        )

    async def _ask_proxy(self, job: JobRecord) -> LiveAnswer | None:
        if job.task_id is None or self._read_task is None:
            return None
        try:
            return LiveAnswer(await self._read_task(job))
        except MidjourneyError as exc:
            return LiveAnswer(None, failed=str(exc))
        except UserFacingError:  # its stored key cannot be read (proxies.unusable)
            return LiveAnswer(None, failed="the key stored for it cannot be read")

    async def usage_of(self, who: Requester, user_id: int) -> UsageReport:
        guild_id = self._moderator(who)
        now = self._clock()
        day, week = start_of_day(now), start_of_week(now)
        target = Requester(user_id=user_id, channel_id=who.channel_id, guild_id=guild_id)
        limits = await self._gate.limits(target, await self._gate.policy(guild_id))
        return UsageReport(
            user_id=user_id,
            today=await self._usage.usage_since(guild_id, user_id, day),
            week=await self._usage.usage_since(guild_id, user_id, week),
            jobs_today=await self._jobs.count_jobs(guild_id, user_id, since=day),
            jobs_week=await self._jobs.count_jobs(guild_id, user_id, since=week),
            quota=limits.user_quota if limits.user_quota > 0 else None,
            week_start=week,
        )

    # ---- suffix and option sets ------------------------------------------------------------
    async def settings(self, who: Requester) -> UserSettingsRecord:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        return await self._users.get(who.guild_id, who.user_id)

    async def save_suffix(self, who: Requester, text: str) -> UserSettingsRecord:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        try:
            suffix = parse_suffix(text, self._max_prompt)
        except PromptError as exc:
            raise UserFacingError(exc.key, **exc.params) from None
        if suffix:
            await self._gate.check_words(who, suffix)
        return await self._users.set(who.guild_id, who.user_id, suffix=suffix)

    async def save_option_sets(self, who: Requester, text: str) -> UserSettingsRecord:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        try:
            sets: OptionSets = parse_option_sets(text, self._max_prompt)
        except PromptError as exc:
            raise UserFacingError(exc.key, **exc.params) from None
        await self._gate.check_words(who, *(f"{name} {params}" for name, params in sets))
        return await self._users.set(who.guild_id, who.user_id, option_sets=sets)
