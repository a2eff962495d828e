"""The Discord messages that show jobs, and the buttons clicked on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.db import Database, StorageError
from storage.records import JobRecord, MessageRecord, job_columns

_COLUMNS = job_columns()
_N_COLUMNS = len(_COLUMNS.split(","))
_MESSAGE_FIELDS = """'message_id', m.message_id, 'job_id', m.job_id,
    'channel_id', m.channel_id, 'guild_id', m.guild_id, 'purpose', m.purpose,
    'interaction_token', m.interaction_token, 'token_expires_at', m.token_expires_at,
    'created_at', m.created_at"""
# The JSON builders are the one part that differs: SQLite's json_object/json_group_array,
# PostgreSQL's json_build_object/json_agg (as text, like SQLite's).
_JSON = {
    "sqlite": (f"json_object({_MESSAGE_FIELDS})", "json_group_array(DISTINCT b.button_index)"),
    "postgresql": (
        f"json_build_object({_MESSAGE_FIELDS})::text",
        "json_agg(DISTINCT b.button_index)::text",
    ),
}


def _display_sql(message_json: str, used_json: str) -> str:
    """Everything one job-message edit needs, in one read: the job, its first message, the
    buttons used on it, and its parent's first message (a child links to it)."""
    return f"""SELECT {_COLUMNS},
    (SELECT {message_json} FROM messages m WHERE m.job_id = jobs.id
        ORDER BY m.created_at, m.message_id LIMIT 1),
    (SELECT {message_json} FROM messages m WHERE m.job_id = jobs.parent_job_id
        ORDER BY m.created_at, m.message_id LIMIT 1),
    (SELECT {used_json} FROM button_uses b
        LEFT JOIN jobs child ON child.id = b.child_job_id
        WHERE b.job_id = jobs.id AND (child.id IS NULL
            OR child.state NOT IN ('failure', 'cancelled', 'unknown')))
    FROM jobs WHERE jobs.id = ?"""


_DISPLAY = {dialect: _display_sql(*parts) for dialect, parts in _JSON.items()}


@dataclass(frozen=True)
class JobDisplay:
    """What showing a job in Discord needs, read at once (see `JobMessages.display`)."""

    job: JobRecord
    message: MessageRecord | None  # the job's message (its first one), if posted
    parent_message: MessageRecord | None  # the parent job's message, for a child job
    used: frozenset[int]  # indexes of the job's buttons used (see `used_buttons`)


def _message(raw: str | None) -> MessageRecord | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return MessageRecord(**data)


class MessageTaken(StorageError):
    """A Discord message belongs to one job only."""


class JobMessages:
    """Message <-> job mapping and button uses; mixed into `JobRepository`."""

    db: Database

    async def add_message(
        self,
        message_id: int,
        job_id: int,
        channel_id: int,
        guild_id: int | None,
        *,
        purpose: str = "job",
        interaction_token: str | None = None,
        token_expires_at: float | None = None,
    ) -> MessageRecord:
        """Map a Discord message to its job; re-adding refreshes the interaction token.

        Raises MessageTaken if the message already belongs to another job.
        """
        result = await self.db.execute(
            """INSERT INTO messages (message_id, job_id, channel_id, guild_id, purpose,
                   interaction_token, token_expires_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (message_id) DO UPDATE SET
                   interaction_token = coalesce(excluded.interaction_token,
                                                messages.interaction_token),
                   token_expires_at = CASE WHEN excluded.interaction_token IS NULL
                       THEN messages.token_expires_at ELSE excluded.token_expires_at END
               WHERE messages.job_id = excluded.job_id""",
            (
                message_id,
                job_id,
                channel_id,
                guild_id,
                purpose,
                interaction_token,
                token_expires_at,
                self.db.now(),
            ),
        )
        if result.rowcount == 0:
            raise MessageTaken(f"message {message_id} already belongs to another job")
        message = await self.get_message(message_id)
        assert message is not None
        return message

    async def get_message(self, message_id: int) -> MessageRecord | None:
        row = await self.db.fetch_one("SELECT * FROM messages WHERE message_id = ?", (message_id,))
        return None if row is None else MessageRecord.from_row(row)

    async def job_for_message(self, message_id: int) -> JobRecord | None:
        """The job a Discord message shows: two primary-key lookups, whatever the table size."""
        row = await self.db.fetch_one(
            f"""SELECT {_COLUMNS} FROM messages JOIN jobs ON jobs.id = messages.job_id
               WHERE messages.message_id = ?""",
            (message_id,),
        )
        return None if row is None else JobRecord.from_row(row)

    async def display(self, job_id: int) -> JobDisplay | None:
        """The job, its message, its parent's message and its used buttons: one read."""
        row = await self.db.fetch_one(_DISPLAY[self.db.dialect], (job_id,))
        if row is None:
            return None
        values = tuple(row)
        job = JobRecord.from_row(values[:_N_COLUMNS])
        message, parent, used = values[_N_COLUMNS:]
        return JobDisplay(
            job=job,
            message=_message(message),
            parent_message=_message(parent),
            used=frozenset(int(i) for i in json.loads(used or "[]")),
        )

    async def messages_for_job(self, job_id: int) -> list[MessageRecord]:
        rows = await self.db.fetch_all(
            "SELECT * FROM messages WHERE job_id = ? ORDER BY created_at, message_id", (job_id,)
        )
        return [MessageRecord.from_row(r) for r in rows]

    async def forget_message(self, message_id: int) -> bool:
        """The message was deleted in Discord: it no longer shows its job (the job stays)."""
        result = await self.db.execute("DELETE FROM messages WHERE message_id = ?", (message_id,))
        return result.rowcount > 0

    async def clear_expired_tokens(self) -> int:
        """Forget interaction tokens past their expiry; returns how many were cleared."""
        result = await self.db.execute(
            """UPDATE messages SET interaction_token = NULL, token_expires_at = NULL
               WHERE interaction_token IS NOT NULL AND token_expires_at <= ?""",
            (self.db.now(),),
        )
        return result.rowcount

    # Buttons -------------------------------------------------------------------------------

    async def record_button_use(
        self, job_id: int, index: int, user_id: int, child_job_id: int | None = None
    ) -> None:
        """Remember a click on button `index` of a job's message, and the job it started."""
        await self.db.execute(
            """INSERT INTO button_uses (job_id, button_index, child_job_id, user_id, created_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (job_id, button_index, created_at) DO UPDATE SET
                   child_job_id = coalesce(excluded.child_job_id, button_uses.child_job_id)""",
            (job_id, index, child_job_id, user_id, self.db.now()),
        )

    async def child_for_button(self, job_id: int, index: int) -> int | None:
        """The job the latest click on that button started, for idempotent actions."""
        value = await self.db.fetch_value(
            """SELECT child_job_id FROM button_uses
               WHERE job_id = ? AND button_index = ? AND child_job_id IS NOT NULL
               ORDER BY created_at DESC LIMIT 1""",
            (job_id, index),
        )
        return None if value is None else int(value)

    async def used_buttons(self, job_id: int) -> frozenset[int]:
        """Indexes of the buttons of a job whose click started a job that did not fail."""
        rows = await self.db.fetch_all(
            """SELECT DISTINCT b.button_index FROM button_uses b
               LEFT JOIN jobs child ON child.id = b.child_job_id
               WHERE b.job_id = ? AND (child.id IS NULL
                    OR child.state NOT IN ('failure', 'cancelled', 'unknown'))""",
            (job_id,),
        )
        return frozenset(int(r[0]) for r in rows)
