"""Moderator operations on one guild: each checked again here, effective at once, and audited."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.access import WEIGHT_ACTIONS, Gate, Policy
from bot.config import QuotaSettings
from bot.errors import UserFacingError
from bot.midjourney.errors import MidjourneyError
from bot.render import MAX_JOB_ID
from bot.requester import Requester
from bot.stats import StatsReport, build_report
from bot.tracker import TERMINAL_STATES
from storage.guilds import AuditEntry, BanRecord, GuildRepository, QuotaOverride
from storage.jobs import JobRecord, JobRepository, MessageRecord
from storage.usage import UsageRepository

log = logging.getLogger(__name__)

CANCELLED_BY_MODERATOR = "mjbot:job.failure.cancelled_by_moderator"
MAX_REASON = 300
MAX_WORD = 100
JOBS_SHOWN = 15


class TaskCanceller(Protocol):
    """The part of the API client a cancel needs."""

    async def cancel(self, task_id: str) -> bool: ...


class FollowedTasks(Protocol):
    """The part of the tracker a cancel needs."""

    def unfollow(self, task_id: str) -> None: ...


AuditListener = Callable[[AuditEntry], Awaitable[None]]
JobListener = Callable[[JobRecord], Awaitable[None]]


@dataclass(frozen=True)
class Change:
    """A moderator's change as written to the audit log, and the catalogue key confirming it."""

    entry: AuditEntry
    key: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class JobLine:
    """One job in the moderators' list, with the message that shows it (if it was posted)."""

    job: JobRecord
    message: MessageRecord | None


@dataclass(frozen=True)
class JobsOverview:
    in_flight: tuple[JobLine, ...]
    recent: tuple[JobLine, ...]


@dataclass(frozen=True)
class GuildConfig:
    """Everything that decides who may use the bot in a guild, and how much."""

    policy: Policy
    prices: Mapping[str, float]
    overrides: tuple[QuotaOverride, ...]
    bans: tuple[BanRecord, ...]
    banned_words: tuple[str, ...]


class ModerationService:
    """What `/mjadmin` does, on plain values; every method checks the moderator itself."""

    def __init__(
        self,
        guilds: GuildRepository,
        usage: UsageRepository,
        jobs: JobRepository,
        gate: Gate,
        tracker: FollowedTasks,
        api: TaskCanceller,
        quota: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._guilds = guilds
        self._usage = usage
        self._jobs = jobs
        self._gate = gate
        self._tracker = tracker
        self._api = api
        self._quota = quota
        self._clock = clock
        # Set by the composition root: post changes to the audit channel, show a cancelled job.
        self.on_change: AuditListener | None = None
        self.on_job_cancelled: JobListener | None = None

    # ---- the run-time permission check -----------------------------------------------------
    def guild_of(self, who: Requester) -> int:
        """The moderator's guild; refuses anyone without Manage Server, whatever Discord showed."""
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        if not who.can_manage_guild:
            log.warning(
                "user %s tried /mjadmin in guild %s without Manage Server",
                who.user_id,
                who.guild_id,
            )
            raise UserFacingError("admin.not_allowed")
        return who.guild_id

    async def _audit(
        self, who: Requester, what: str, detail: str, key: str, /, **params: object
    ) -> Change:
        """Record who changed what (now), tell the audit channel, and confirm with `key`."""
        assert who.guild_id is not None
        entry = await self._guilds.add_audit(who.guild_id, who.user_id, what, detail)
        log.info("guild %s: moderator %s %s %s", who.guild_id, who.user_id, what, detail)
        if self.on_change is not None:
            await self.on_change(entry)
        return Change(entry, key, params)

    # ---- where and who ---------------------------------------------------------------------
    async def add_channel(self, who: Requester, channel_id: int) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.add_allowed_channel(guild_id, channel_id)
        return await self._audit(
            who,
            "channel.add",
            f"<#{channel_id}>",
            "admin.channel.added",
            channel=f"<#{channel_id}>",
        )

    async def remove_channel(self, who: Requester, channel_id: int) -> Change:
        guild_id = self.guild_of(who)
        left = await self._guilds.remove_allowed_channel(guild_id, channel_id)
        key = "admin.channel.removed" if left else "admin.channel.removed_all"
        return await self._audit(
            who, "channel.remove", f"<#{channel_id}>", key, channel=f"<#{channel_id}>"
        )

    async def add_role(self, who: Requester, role_id: int) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.add_allowed_role(guild_id, role_id)
        return await self._audit(
            who, "role.add", f"<@&{role_id}>", "admin.role.added", role=f"<@&{role_id}>"
        )

    async def remove_role(self, who: Requester, role_id: int) -> Change:
        guild_id = self.guild_of(who)
        left = await self._guilds.remove_allowed_role(guild_id, role_id)
        key = "admin.role.removed" if left else "admin.role.removed_all"
        return await self._audit(who, "role.remove", f"<@&{role_id}>", key, role=f"<@&{role_id}>")

    async def ban(self, who: Requester, user_id: int, reason: str) -> Change:
        guild_id = self.guild_of(who)
        reason = " ".join(reason.split())[:MAX_REASON]
        await self._guilds.add_ban(guild_id, user_id, reason=reason, banned_by=who.user_id)
        return await self._audit(
            who,
            "ban",
            f"<@{user_id}>: {reason or '-'}",
            "admin.ban.done",
            user=f"<@{user_id}>",
            reason=reason or "-",
        )

    async def unban(self, who: Requester, user_id: int) -> Change:
        guild_id = self.guild_of(who)
        if not await self._guilds.remove_ban(guild_id, user_id):
            raise UserFacingError("admin.ban.not_banned", user=f"<@{user_id}>")
        return await self._audit(
            who, "unban", f"<@{user_id}>", "admin.ban.lifted", user=f"<@{user_id}>"
        )

    # ---- how much --------------------------------------------------------------------------
    async def set_daily_quota(self, who: Requester, units: float) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.update_settings(guild_id, daily_quota=units)
        return await self._audit(
            who,
            "quota.default",
            _num(units),
            "admin.quota.default_set",
            units=_units(units),
            count=_num(units),
        )

    async def set_user_quota(self, who: Requester, user_id: int, units: float) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.set_quota_override(guild_id, user_id, units)
        return await self._audit(
            who,
            "quota.user",
            f"<@{user_id}>: {_num(units)}",
            "admin.quota.user_set",
            user=f"<@{user_id}>",
            units=_units(units),
            count=_num(units),
        )

    async def reset_user_quota(self, who: Requester, user_id: int) -> Change:
        guild_id = self.guild_of(who)
        if not await self._guilds.remove_quota_override(guild_id, user_id):
            raise UserFacingError("admin.quota.no_override", user=f"<@{user_id}>")
        return await self._audit(
            who, "quota.user_reset", f"<@{user_id}>", "admin.quota.user_reset", user=f"<@{user_id}>"
        )

    async def set_guild_cap(self, who: Requester, units: float) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.update_settings(guild_id, guild_daily_cap=units)
        return await self._audit(
            who,
            "quota.cap",
            _num(units),
            "admin.quota.cap_set",
            units=_units(units),
            count=_num(units),
        )

    async def set_weight(self, who: Requester, action: str, units: float) -> Change:
        guild_id = self.guild_of(who)
        if action not in WEIGHT_ACTIONS:
            raise UserFacingError("admin.quota.unknown_action", action=action)
        await self._guilds.set_weight(guild_id, action, units)
        return await self._audit(
            who,
            "quota.weight",
            f"{action} = {_num(units)}",
            "admin.quota.weight_set",
            action=action,
            units=_num(units),
            count=_num(units),
        )

    async def set_in_flight(
        self, who: Requester, per_user: int | None, per_guild: int | None
    ) -> Change:
        guild_id = self.guild_of(who)
        if per_user is None and per_guild is None:
            raise UserFacingError("admin.quota.in_flight_nothing")
        if per_user is not None:
            await self._guilds.update_settings(guild_id, max_jobs_per_user=per_user)
        if per_guild is not None:
            await self._guilds.update_settings(guild_id, max_jobs_per_guild=per_guild)
        policy = await self._gate.policy(guild_id)
        user, guild = _limit(policy.max_jobs_per_user), _limit(policy.max_jobs_per_guild)
        return await self._audit(
            who,
            "quota.in_flight",
            f"{user} / {guild}",
            "admin.quota.in_flight_set",
            per_user=user,
            per_guild=guild,
        )

    # ---- banned words ----------------------------------------------------------------------
    async def add_word(self, who: Requester, word: str) -> Change:
        guild_id = self.guild_of(who)
        word = " ".join(word.split())[:MAX_WORD]
        if not word:
            raise UserFacingError("admin.words.empty")
        if not await self._guilds.add_banned_word(guild_id, word):
            raise UserFacingError("admin.words.already", word=word)
        return await self._audit(who, "words.add", word, "admin.words.added", word=word)

    async def remove_word(self, who: Requester, word: str) -> Change:
        guild_id = self.guild_of(who)
        if not await self._guilds.remove_banned_word(guild_id, word):
            raise UserFacingError("admin.words.unknown", word=word)
        return await self._audit(who, "words.remove", word, "admin.words.removed", word=word)

    async def banned_words(self, who: Requester) -> list[str]:
        return await self._guilds.banned_words(self.guild_of(who))

    # ---- kill switch and audit channel -----------------------------------------------------
    async def pause(self, who: Requester) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.set_paused(guild_id, True)
        return await self._audit(who, "pause", "", "admin.pause.paused")

    async def resume(self, who: Requester) -> Change:
        guild_id = self.guild_of(who)
        await self._guilds.set_paused(guild_id, False)
        return await self._audit(who, "resume", "", "admin.pause.resumed")

    async def set_audit_channel(
        self, who: Requester, channel_id: int | None, channel_guild_id: int | None = None
    ) -> Change:
        """`channel_guild_id` is where the channel lives: another guild's channel is refused."""
        guild_id = self.guild_of(who)
        if channel_id is not None and channel_guild_id != guild_id:
            raise UserFacingError("admin.auditlog.other_guild")
        if channel_id is None:
            # Audited first, so the channel being turned off still shows who did it.
            change = await self._audit(who, "audit_channel", "-", "admin.auditlog.off")
            await self._guilds.update_settings(guild_id, audit_channel_id=None)
            return change
        await self._guilds.update_settings(guild_id, audit_channel_id=channel_id)
        channel = f"<#{channel_id}>"
        return await self._audit(
            who, "audit_channel", channel, "admin.auditlog.set", channel=channel
        )

    # ---- reading ---------------------------------------------------------------------------
    async def config(self, who: Requester) -> GuildConfig:
        guild_id = self.guild_of(who)
        return GuildConfig(
            policy=await self._gate.policy(guild_id),
            prices=dict(self._quota.prices),
            overrides=tuple(await self._guilds.list_quota_overrides(guild_id)),
            bans=tuple(await self._guilds.list_bans(guild_id)),
            banned_words=tuple(await self._guilds.banned_words(guild_id)),
        )

    async def stats(self, who: Requester, days: int) -> StatsReport:
        guild_id = self.guild_of(who)
        return await build_report(
            self._usage, guild_id, days, now=self._clock(), prices=self._quota.prices
        )

    async def jobs(self, who: Requester) -> JobsOverview:
        guild_id = self.guild_of(who)
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
        messages = await self._jobs.messages_for_job(job.id)
        return JobLine(job, messages[0] if messages else None)

    # ---- cancelling ------------------------------------------------------------------------
    async def cancel_job(self, who: Requester, job_id: int) -> Change:
        """Stop following a job, mark it cancelled, refund it, and ask the proxy to drop it."""
        guild_id = self.guild_of(who)
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
        stopped = await self._cancel_at_proxy(job)
        change = await self._audit(
            who,
            "job.cancel",
            f"#{job_id} <@{job.requester_id}>",
            "admin.jobs.cancelled" if stopped else "admin.jobs.cancelled_here",
            job=job_id,
        )
        cancelled = await self._jobs.get(job_id)
        if cancelled is not None and self.on_job_cancelled is not None:
            await self.on_job_cancelled(cancelled)
        return change

    async def _cancel_at_proxy(self, job: JobRecord) -> bool:
        if job.task_id is None:
            return False
        try:
            return await self._api.cancel(job.task_id)
        except MidjourneyError as exc:
            # The job is cancelled for the bot either way; the proxy may still finish it.
            log.warning("the proxy did not cancel task %s of job %s: %s", job.task_id, job.id, exc)
            return False


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _units(value: float) -> str:
    """A quota for the confirmation sentence; 0 is shown as unlimited by the catalogue key."""
    return _num(value) if value > 0 else "∞"


def _limit(value: int) -> str:
    return str(value) if value > 0 else "∞"
