"""A member's own jobs, page by page (/history, /show), and how many they started since a time."""

from __future__ import annotations

from storage.db import Database
from storage.records import JobRecord, job_columns

_COLUMNS = job_columns()


class MemberJobs:
    """Mixed into `JobRepository`; served by the index jobs_requester_guild_created."""

    db: Database

    async def jobs_page(
        self, guild_id: int, user_id: int, *, limit: int, offset: int = 0
    ) -> list[JobRecord]:
        """A member's jobs in a guild, newest first, `limit` of them after skipping `offset`."""
        rows = await self.db.fetch_all(
            f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_requester_guild_created
                WHERE requester_id = ? AND guild_id = ?
                ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?""",
            (user_id, guild_id, limit, offset),
        )
        return [JobRecord.from_row(r) for r in rows]

    async def count_jobs(self, guild_id: int, user_id: int, *, since: float = 0.0) -> int:
        value = await self.db.fetch_value(
            """SELECT count(*) FROM jobs INDEXED BY jobs_requester_guild_created
               WHERE requester_id = ? AND guild_id = ? AND created_at >= ?""",
            (user_id, guild_id, since),
        )
        return int(value or 0)
