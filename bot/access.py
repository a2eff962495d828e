"""Who may start a job where, and what it costs: the moderators' rules applied to one request."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.config import CHARGED_ACTIONS, QuotaSettings
from bot.errors import UserFacingError
from bot.prompts import find_banned_word
from bot.requester import Requester
from bot.safety import escape_inline
from storage.guilds import GuildRepository, GuildSettingsRecord

# Every action a job can be charged for: the names moderators give weights and prices to.
WEIGHT_ACTIONS = CHARGED_ACTIONS


@dataclass(frozen=True)
class Policy:
    """A guild's effective rules: its own settings over the configured defaults."""

    guild_id: int
    paused: bool
    allowed_channels: frozenset[int]
    allowed_roles: frozenset[int]
    daily_quota: float
    guild_daily_cap: float
    max_jobs_per_user: int
    max_jobs_per_guild: int
    weights: Mapping[str, float]
    audit_channel_id: int | None
    locale: str | None

    def units_for(self, action: str) -> float:
        return float(self.weights.get(action, 1.0))


@dataclass(frozen=True)
class Limits:
    """The numbers one charge is checked against (0 = unlimited)."""

    user_quota: float
    guild_cap: float
    max_user_in_flight: int
    max_guild_in_flight: int
    since: float


def start_of_day(now: float) -> float:
    """Quotas reset at midnight UTC."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def merge_policy(
    guild_id: int, record: GuildSettingsRecord | None, defaults: QuotaSettings
) -> Policy:
    def pick(value: float | None, default: float) -> float:
        return default if value is None else value

    weights = dict(defaults.weights)
    if record is not None:
        weights.update(record.weights)
    return Policy(
        guild_id=guild_id,
        paused=bool(record and record.paused),
        allowed_channels=frozenset(record.allowed_channels) if record else frozenset(),
        allowed_roles=frozenset(record.allowed_roles) if record else frozenset(),
        daily_quota=pick(record.daily_quota if record else None, defaults.daily_quota),
        guild_daily_cap=pick(record.guild_daily_cap if record else None, defaults.guild_daily_cap),
        max_jobs_per_user=int(
            pick(record.max_jobs_per_user if record else None, defaults.max_jobs_per_user)
        ),
        max_jobs_per_guild=int(
            pick(record.max_jobs_per_guild if record else None, defaults.max_jobs_per_guild)
        ),
        weights=weights,
        audit_channel_id=record.audit_channel_id if record else None,
        locale=record.locale if record else None,
    )


class Gate:
    """Checks access and prompts before anything is submitted; computes quota limits."""

    def __init__(
        self,
        guilds: GuildRepository,
        defaults: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._guilds = guilds
        self._defaults = defaults
        self._clock = clock

    async def policy(self, guild_id: int) -> Policy:
        return merge_policy(guild_id, await self._guilds.get(guild_id), self._defaults)

    async def admit(self, who: Requester) -> Policy:
        """Refuse (with the reason) a member who may not use the bot here and now."""
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        policy = await self.policy(who.guild_id)
        if policy.paused:
            raise UserFacingError("access.paused")
        ban = await self._guilds.get_ban(who.guild_id, who.user_id)
        if ban is not None:
            # The moderator's words, shown literally: no live link or heading under the bot's name.
            raise UserFacingError("access.banned", reason=escape_inline(ban.reason or "-"))
        if policy.allowed_channels and who.channel_id not in policy.allowed_channels:
            channels = " ".join(f"<#{c}>" for c in sorted(policy.allowed_channels))
            raise UserFacingError("access.channel", channels=channels)
        if policy.allowed_roles and not (who.role_ids & policy.allowed_roles):
            roles = " ".join(f"<@&{r}>" for r in sorted(policy.allowed_roles))
            raise UserFacingError("access.role", roles=roles)
        return policy

    async def check_words(self, who: Requester, *texts: str) -> None:
        if who.guild_id is None:
            return
        words = await self._guilds.banned_words(who.guild_id)
        if not words:
            return
        for text in texts:
            word = find_banned_word(text, words)
            if word is not None:
                raise UserFacingError("access.banned_word", word=word)

    async def limits(self, who: Requester, policy: Policy) -> Limits:
        assert who.guild_id is not None
        override = await self._guilds.get_quota_override(who.guild_id, who.user_id)
        quota = policy.daily_quota if override is None else override
        return Limits(
            user_quota=float(quota),
            guild_cap=float(policy.guild_daily_cap),
            max_user_in_flight=policy.max_jobs_per_user,
            max_guild_in_flight=policy.max_jobs_per_guild,
            since=start_of_day(self._clock()),
        )
