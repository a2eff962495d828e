"""Moderator operations on one guild: each checked again here, effective at once, and audited."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.access import WEIGHT_ACTIONS, Gate, Policy
from bot.config import QuotaSettings
from bot.errors import UserFacingError
from bot.moderation_jobs import (
    CANCELLED_BY_MODERATOR,
    FollowedTasks,
    GuildJobs,
    JobLine,
    JobsOverview,
    TaskCanceller,
)
from bot.requester import Requester
from bot.stats import StatsReport, build_report
from storage.guilds import AuditEntry, BanRecord, GuildRepository, QuotaOverride
from storage.jobs import JobRecord, JobRepository
from storage.usage import UsageRepository

__all__ = [
    "CANCELLED_BY_MODERATOR",
    "Change",
    "GuildConfig",
    "JobLine",
    "JobsOverview",
    "ModerationService",
]

log = logging.getLogger(__name__)

MAX_REASON = 300
MAX_WORD = 100


AuditListener = Callable[[AuditEntry], Awaitable[None]]
JobListener = Callable[[JobRecord], Awaitable[None]]


@dataclass(frozen=True)
class Change:
    """A moderator's change as written to the audit log, and the catalogue key confirming it."""

    entry: AuditEntry
    key: str
    params: Mapping[str, object] = field(default_factory=dict)


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
        self._guild_jobs = GuildJobs(jobs, usage, tracker, api)
        self._gate = gate
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
        return await self._guild_jobs.overview(self.guild_of(who))

    # ---- cancelling ------------------------------------------------------------------------
    async def cancel_job(self, who: Requester, job_id: int) -> Change:
        """Stop following a job, mark it cancelled, refund it, and ask the proxy to drop it."""
        job, stopped = await self._guild_jobs.cancel(self.guild_of(who), job_id)
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


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _units(value: float) -> str:
    """A quota for the confirmation sentence; 0 is shown as unlimited by the catalogue key."""
    return _num(value) if value > 0 else "∞"


def _limit(value: int) -> str:
    return str(value) if value > 0 else "∞"
