"""Per-guild moderation state: settings, quota overrides, bans, banned words and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from storage.db import Database, Transaction
from storage.records import (
    UNSET,
    AuditEntry,
    BanRecord,
    GuildSettingsRecord,
    QuotaOverride,
    Unset,
)

__all__ = [
    "AuditEntry",
    "BanRecord",
    "GuildRepository",
    "GuildSettingsRecord",
    "QuotaOverride",
    "normalise_word",
]

_ListColumn = Literal["allowed_channels_json", "allowed_roles_json"]


def _ids_json(ids: Iterable[int] | None) -> str | None:
    values = sorted({int(i) for i in ids}) if ids is not None else []
    return json.dumps(values) if values else None


def normalise_word(word: str) -> str:
    """How banned words are stored and compared: trimmed and case-folded."""
    return " ".join(word.split()).casefold()


class GuildRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Settings ------------------------------------------------------------------------------

    async def get(self, guild_id: int) -> GuildSettingsRecord:
        """The guild's own settings; every field None when it never changed anything."""
        row = await self.db.fetch_one(
            "SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return GuildSettingsRecord(guild_id) if row is None else GuildSettingsRecord.from_row(row)

    async def update_settings(
        self,
        guild_id: int,
        *,
        paused: bool | Unset | None = UNSET,
        audit_channel_id: int | Unset | None = UNSET,
        locale: str | Unset | None = UNSET,
        daily_quota: float | Unset | None = UNSET,
        guild_daily_cap: float | Unset | None = UNSET,
        max_jobs_per_user: int | Unset | None = UNSET,
        max_jobs_per_guild: int | Unset | None = UNSET,
        weights: Mapping[str, float] | Unset | None = UNSET,
        allowed_channels: Iterable[int] | Unset | None = UNSET,
        allowed_roles: Iterable[int] | Unset | None = UNSET,
    ) -> GuildSettingsRecord:
        """Change only the given fields; None puts a field back to the configured default."""
        changes: dict[str, Any] = {}
        if not isinstance(paused, Unset):
            changes["paused"] = None if paused is None else int(paused)
        for column, value in (
            ("audit_channel_id", audit_channel_id),
            ("locale", locale),
            ("daily_quota", daily_quota),
            ("guild_daily_cap", guild_daily_cap),
            ("max_jobs_per_user", max_jobs_per_user),
            ("max_jobs_per_guild", max_jobs_per_guild),
        ):
            if not isinstance(value, Unset):
                changes[column] = value
        if not isinstance(weights, Unset):
            changes["weights_json"] = json.dumps(dict(weights)) if weights else None
        if not isinstance(allowed_channels, Unset):
            changes["allowed_channels_json"] = _ids_json(allowed_channels)
        if not isinstance(allowed_roles, Unset):
            changes["allowed_roles_json"] = _ids_json(allowed_roles)
        async with self.db.transaction() as tx:
            await self._write(tx, guild_id, changes)
            row = await tx.fetch_one("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        assert row is not None
        return GuildSettingsRecord.from_row(row)

    async def _write(self, tx: Transaction, guild_id: int, changes: Mapping[str, Any]) -> None:
        # Column names come from the fixed keyword list above, never from input.
        columns = [*changes, "updated_at"]
        values = [*changes.values(), self.db.now()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        await tx.execute(
            f"""INSERT INTO guild_settings (guild_id, {", ".join(columns)})
                VALUES (?, {", ".join("?" for _ in columns)})
                ON CONFLICT (guild_id) DO UPDATE SET {updates}""",
            (guild_id, *values),
        )

    async def set_weight(
        self, guild_id: int, action: str, weight: float | None
    ) -> dict[str, float]:
        """Change one action's weight (None: back to the configured one); returns the overrides."""
        async with self.db.transaction() as tx:
            text = await tx.fetch_value(
                "SELECT weights_json FROM guild_settings WHERE guild_id = ?", (guild_id,)
            )
            weights = {str(k): float(v) for k, v in json.loads(text).items()} if text else {}
            if weight is None:
                weights.pop(action, None)
            else:
                weights[action] = float(weight)
            await self._write(
                tx, guild_id, {"weights_json": json.dumps(weights) if weights else None}
            )
        return weights

    async def set_paused(self, guild_id: int, paused: bool) -> GuildSettingsRecord:
        return await self.update_settings(guild_id, paused=paused)

    async def add_allowed_channel(self, guild_id: int, channel_id: int) -> frozenset[int]:
        return await self._change_ids(guild_id, "allowed_channels_json", channel_id, add=True)

    async def remove_allowed_channel(self, guild_id: int, channel_id: int) -> frozenset[int]:
        return await self._change_ids(guild_id, "allowed_channels_json", channel_id, add=False)

    async def add_allowed_role(self, guild_id: int, role_id: int) -> frozenset[int]:
        return await self._change_ids(guild_id, "allowed_roles_json", role_id, add=True)

    async def remove_allowed_role(self, guild_id: int, role_id: int) -> frozenset[int]:
        return await self._change_ids(guild_id, "allowed_roles_json", role_id, add=False)

    async def _change_ids(
        self, guild_id: int, column: _ListColumn, item: int, *, add: bool
    ) -> frozenset[int]:
        """Add or remove one id; returns the new set (empty = no restriction)."""
        async with self.db.transaction() as tx:
            text = await tx.fetch_value(
                f"SELECT {column} FROM guild_settings WHERE guild_id = ?", (guild_id,)
            )
            ids = {int(i) for i in json.loads(text)} if text else set()
            if add:
                ids.add(item)
            else:
                ids.discard(item)
            await self._write(tx, guild_id, {column: _ids_json(ids)})
        return frozenset(ids)

    # Quota overrides -----------------------------------------------------------------------

    async def set_quota_override(
        self, guild_id: int, user_id: int, daily_quota: float
    ) -> QuotaOverride:
        now = self.db.now()
        await self.db.execute(
            """INSERT INTO quota_overrides (guild_id, user_id, daily_quota, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (guild_id, user_id) DO UPDATE SET
                   daily_quota = excluded.daily_quota, updated_at = excluded.updated_at""",
            (guild_id, user_id, daily_quota, now),
        )
        return QuotaOverride(guild_id, user_id, float(daily_quota), now)

    async def remove_quota_override(self, guild_id: int, user_id: int) -> bool:
        result = await self.db.execute(
            "DELETE FROM quota_overrides WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return result.rowcount > 0

    async def get_quota_override(self, guild_id: int, user_id: int) -> float | None:
        value = await self.db.fetch_value(
            "SELECT daily_quota FROM quota_overrides WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return None if value is None else float(value)

    async def list_quota_overrides(self, guild_id: int) -> list[QuotaOverride]:
        rows = await self.db.fetch_all(
            """SELECT guild_id, user_id, daily_quota, updated_at FROM quota_overrides
               WHERE guild_id = ? ORDER BY user_id""",
            (guild_id,),
        )
        return [QuotaOverride(r[0], r[1], float(r[2]), r[3]) for r in rows]

    # Bans ----------------------------------------------------------------------------------

    async def add_ban(
        self, guild_id: int, user_id: int, *, reason: str, banned_by: int
    ) -> BanRecord:
        """Ban a member (again: the reason and moderator are replaced)."""
        now = self.db.now()
        await self.db.execute(
            """INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (guild_id, user_id) DO UPDATE SET
                   reason = excluded.reason, banned_by = excluded.banned_by,
                   created_at = excluded.created_at""",
            (guild_id, user_id, reason, banned_by, now),
        )
        return BanRecord(guild_id, user_id, reason, banned_by, now)

    async def remove_ban(self, guild_id: int, user_id: int) -> bool:
        result = await self.db.execute(
            "DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return result.rowcount > 0

    async def get_ban(self, guild_id: int, user_id: int) -> BanRecord | None:
        row = await self.db.fetch_one(
            """SELECT guild_id, user_id, reason, banned_by, created_at FROM bans
               WHERE guild_id = ? AND user_id = ?""",
            (guild_id, user_id),
        )
        return None if row is None else BanRecord(*row)

    async def list_bans(self, guild_id: int) -> list[BanRecord]:
        rows = await self.db.fetch_all(
            """SELECT guild_id, user_id, reason, banned_by, created_at FROM bans
               WHERE guild_id = ? ORDER BY created_at, user_id""",
            (guild_id,),
        )
        return [BanRecord(*r) for r in rows]

    # Banned words --------------------------------------------------------------------------

    async def add_banned_word(self, guild_id: int, word: str) -> bool:
        """Returns False when the word was already banned."""
        normalised = normalise_word(word)
        if not normalised:
            raise ValueError("a banned word cannot be empty")
        result = await self.db.execute(
            """INSERT INTO banned_words (guild_id, word) VALUES (?, ?)
               ON CONFLICT (guild_id, word) DO NOTHING""",
            (guild_id, normalised),
        )
        return result.rowcount > 0

    async def remove_banned_word(self, guild_id: int, word: str) -> bool:
        result = await self.db.execute(
            "DELETE FROM banned_words WHERE guild_id = ? AND word = ?",
            (guild_id, normalise_word(word)),
        )
        return result.rowcount > 0

    async def banned_words(self, guild_id: int) -> list[str]:
        rows = await self.db.fetch_all(
            "SELECT word FROM banned_words WHERE guild_id = ?", (guild_id,)
        )
        # Sorted here, by code point (SQLite's BINARY order): PostgreSQL would sort by the
        # database's collation, which differs from one server to the next (é before f).
        return sorted(str(r[0]) for r in rows)

    # Audit ---------------------------------------------------------------------------------

    async def add_audit(
        self, guild_id: int, actor_id: int, action: str, detail: str = ""
    ) -> AuditEntry:
        now = self.db.now()
        async with self.db.transaction() as tx:
            audit_id = await tx.fetch_value(
                """INSERT INTO audit (guild_id, actor_id, action, detail, created_at)
                   VALUES (?, ?, ?, ?, ?) RETURNING id""",
                (guild_id, actor_id, action, detail, now),
            )
        return AuditEntry(int(audit_id), guild_id, actor_id, action, detail, now)

    async def audit_entries(
        self, guild_id: int, *, limit: int = 50, before: float | None = None
    ) -> list[AuditEntry]:
        """Newest first; `before` pages back in time."""
        rows = await self.db.fetch_all(
            """SELECT id, guild_id, actor_id, action, detail, created_at FROM audit
               WHERE guild_id = ? AND created_at < ?
               ORDER BY created_at DESC, id DESC LIMIT ?""",
            (guild_id, float("inf") if before is None else before, limit),
        )
        return [AuditEntry(*r) for r in rows]
