"""Frozen dataclasses the repositories return about guilds and their members: settings, rules,
quotas, audit entries and usage (job and message records are in storage/records.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from storage.db import Row

ChargeRefusal = Literal["user_quota", "guild_cap", "user_in_flight", "guild_in_flight"]


@dataclass(frozen=True)
class GuildSettingsRecord:
    """A guild's own settings; None (or an empty collection) means "use the configured default".

    Empty `allowed_channels`/`allowed_roles` mean no restriction; `weights` holds only the
    actions whose weight the guild changed.
    """

    guild_id: int
    paused: bool | None = None
    audit_channel_id: int | None = None
    locale: str | None = None
    daily_quota: float | None = None
    guild_daily_cap: float | None = None
    max_jobs_per_user: int | None = None
    max_jobs_per_guild: int | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    allowed_channels: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    updated_at: float | None = None

    @classmethod
    def from_row(cls, row: Row) -> GuildSettingsRecord:
        weights = _json_or_none(row["weights_json"]) or {}
        channels = _json_or_none(row["allowed_channels_json"]) or []
        roles = _json_or_none(row["allowed_roles_json"]) or []
        return cls(
            guild_id=row["guild_id"],
            paused=None if row["paused"] is None else bool(row["paused"]),
            audit_channel_id=row["audit_channel_id"],
            locale=row["locale"],
            daily_quota=row["daily_quota"],
            guild_daily_cap=row["guild_daily_cap"],
            max_jobs_per_user=row["max_jobs_per_user"],
            max_jobs_per_guild=row["max_jobs_per_guild"],
            weights={str(k): float(v) for k, v in weights.items()},
            allowed_channels=frozenset(int(c) for c in channels),
            allowed_roles=frozenset(int(r) for r in roles),
            updated_at=row["updated_at"],
        )


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class UserSettingsRecord:
    """A member's defaults appended to prompts; None means "not set"."""

    guild_id: int
    user_id: int
    version: str | None = None
    aspect: str | None = None
    stylize: int | None = None
    style_raw: bool | None = None
    speed: str | None = None
    updated_at: float | None = None
    suffix: str | None = None
    # (name, parameters) pairs in the member's order.
    option_sets: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_row(cls, row: Row) -> UserSettingsRecord:
        keys = set(row.keys())
        sets = row["option_sets_json"] if "option_sets_json" in keys else None
        return cls(
            guild_id=row["guild_id"],
            user_id=row["user_id"],
            version=row["version"],
            aspect=row["aspect"],
            stylize=row["stylize"],
            style_raw=None if row["style_raw"] is None else bool(row["style_raw"]),
            speed=row["speed"],
            updated_at=row["updated_at"],
            suffix=row["suffix"] if "suffix" in keys else None,
            option_sets=option_sets_from_json(sets),
        )


def option_sets_to_json(sets: Sequence[tuple[str, str]]) -> str | None:
    if not sets:
        return None
    return json.dumps([[name, params] for name, params in sets], ensure_ascii=False)


def option_sets_from_json(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    data = json.loads(text)
    return tuple(
        (str(item[0]), str(item[1])) for item in data if isinstance(item, list) and len(item) == 2
    )


@dataclass(frozen=True)
class QuotaOverride:
    guild_id: int
    user_id: int
    daily_quota: float
    updated_at: float


@dataclass(frozen=True)
class BanRecord:
    guild_id: int
    user_id: int
    reason: str
    banned_by: int
    created_at: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    detail: str
    created_at: float


@dataclass(frozen=True)
class ChargeResult:
    """Outcome of an atomic quota check-and-charge.

    `used`/`limit` describe the check that decided: units for the quotas (after this charge when
    allowed), job counts for the in-flight limits; `limit` is `inf` when nothing limits.
    """

    allowed: bool
    reason: ChargeRefusal | None
    used: float
    limit: float


@dataclass(frozen=True)
class UserUsage:
    user_id: int
    jobs: int
    units: float
    failures: int


@dataclass(frozen=True)
class ActionUsage:
    action: str
    jobs: int
    units: float
    failures: int


@dataclass(frozen=True)
class DayUsage:
    day: str  # ISO date (YYYY-MM-DD) in the summary's UTC offset
    jobs: int
    units: float
    failures: int


@dataclass(frozen=True)
class UsageSummary:
    """A guild's usage since a moment: totals, per user, per action and per day.

    Jobs and failures come from the jobs table (requester, action, creation day); units from
    the usage rows that were not refunded (who was charged, for which action, when).
    """

    guild_id: int
    since: float
    jobs: int
    units: float
    failures: int
    per_user: tuple[UserUsage, ...]
    per_action: tuple[ActionUsage, ...]
    per_day: tuple[DayUsage, ...]
