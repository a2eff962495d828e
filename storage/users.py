"""Members' personal prompt defaults (/settings), one row per guild and member."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.records import UNSET, Unset, UserSettingsRecord, option_sets_to_json

__all__ = ["UserSettingsRecord", "UserSettingsRepository"]


class UserSettingsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int, user_id: int) -> UserSettingsRecord:
        """The member's defaults; every field None when nothing was chosen."""
        row = await self.db.fetch_one(
            "SELECT * FROM user_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return (
            UserSettingsRecord(guild_id, user_id)
            if row is None
            else UserSettingsRecord.from_row(row)
        )

    async def set(
        self,
        guild_id: int,
        user_id: int,
        *,
        version: str | Unset | None = UNSET,
        aspect: str | Unset | None = UNSET,
        stylize: int | Unset | None = UNSET,
        style_raw: bool | Unset | None = UNSET,
        speed: str | Unset | None = UNSET,
        suffix: str | Unset | None = UNSET,
        option_sets: tuple[tuple[str, str], ...] | Unset = UNSET,
    ) -> UserSettingsRecord:
        """Change only the given fields; None clears one."""
        changes: dict[str, Any] = {}
        for column, value in (
            ("version", version),
            ("aspect", aspect),
            ("stylize", stylize),
            ("speed", speed),
            ("suffix", suffix),
        ):
            if not isinstance(value, Unset):
                changes[column] = value
        if not isinstance(option_sets, Unset):
            changes["option_sets_json"] = option_sets_to_json(option_sets)
        if not isinstance(style_raw, Unset):
            changes["style_raw"] = None if style_raw is None else int(style_raw)
        # Column names come from the fixed keyword list above, never from input.
        columns = [*changes, "updated_at"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        async with self.db.transaction() as tx:
            await tx.execute(
                f"""INSERT INTO user_settings (guild_id, user_id, {", ".join(columns)})
                    VALUES (?, ?, {", ".join("?" for _ in columns)})
                    ON CONFLICT (guild_id, user_id) DO UPDATE SET {updates}""",
                (guild_id, user_id, *changes.values(), self.db.now()),
            )
            row = await tx.fetch_one(
                "SELECT * FROM user_settings WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
        assert row is not None
        return UserSettingsRecord.from_row(row)

    async def reset(self, guild_id: int, user_id: int) -> bool:
        """Forget all of the member's defaults; False when there were none."""
        result = await self.db.execute(
            "DELETE FROM user_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return result.rowcount > 0
