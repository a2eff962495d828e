"""Look-ups of jobs: one by id or task, the unfinished ones a process follows, a guild's jobs in
flight, recent or in a period, and the children of a job."""

from __future__ import annotations

from storage.db import Database
from storage.records import UNFINISHED_SQL, JobRecord, job_columns
from storage.shards import ALL_SHARDS, ShardScope

_COLUMNS = job_columns()


class JobQueries:
    """Mixed into `JobRepository`: reads only."""

    db: Database

    async def get(self, job_id: int) -> JobRecord | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else JobRecord.from_row(row)

    async def get_by_task_id(self, task_id: str) -> JobRecord | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM jobs WHERE task_id = ?", (task_id,))
        return None if row is None else JobRecord.from_row(row)

    async def unfinished(self, scope: ShardScope = ALL_SHARDS) -> list[JobRecord]:
        """Every job not in a terminal state, 'submitting' included, oldest first; only the
        jobs of `scope`'s guilds (a process follows the guilds of its own shards)."""
        shard_sql, shard_params = scope.sql()
        rows = await self.db.fetch_all(
            f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_unfinished
                WHERE state IN {UNFINISHED_SQL} AND {shard_sql}""",
            shard_params,
        )
        # Sorted here: ORDER BY would copy every full row through a temporary b-tree.
        return sorted((JobRecord.from_row(r) for r in rows), key=lambda job: job.id)

    async def count_unfinished(self, scope: ShardScope = ALL_SHARDS) -> dict[str, int]:
        """Unfinished jobs of `scope`'s guilds by state (for /metrics: each process counts its
        own shards, so the processes' figures add up; reads the small partial index only)."""
        shard_sql, shard_params = scope.sql()
        rows = await self.db.fetch_all(
            f"""SELECT state, count(*) FROM jobs INDEXED BY jobs_unfinished
                WHERE state IN {UNFINISHED_SQL} AND {shard_sql} GROUP BY state""",
            shard_params,
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def awaiting_upload(
        self, since: float, scope: ShardScope = ALL_SHARDS
    ) -> list[JobRecord]:
        """Successful jobs of `scope`'s guilds since `since` whose image was never uploaded
        (a stop in between)."""
        shard_sql, shard_params = scope.sql()
        rows = await self.db.fetch_all(
            f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_finished
                WHERE finished_at IS NOT NULL AND finished_at >= ? AND state = 'success'
                  AND attachment_url IS NULL AND image_url IS NOT NULL AND {shard_sql}""",
            (since, *shard_params),
        )
        return [JobRecord.from_row(r) for r in rows]

    async def jobs_in_flight(
        self, guild_id: int | None, user_id: int | None = None
    ) -> list[JobRecord]:
        """A guild's (or one member's) unfinished jobs, oldest first."""
        if user_id is None:
            rows = await self.db.fetch_all(
                f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_unfinished
                    WHERE guild_id IS ? AND state IN {UNFINISHED_SQL} ORDER BY id""",
                (guild_id,),
            )
        else:
            rows = await self.db.fetch_all(
                f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_unfinished
                    WHERE guild_id IS ? AND requester_id = ? AND state IN {UNFINISHED_SQL}
                    ORDER BY id""",
                (guild_id, user_id),
            )
        return [JobRecord.from_row(r) for r in rows]

    async def recent_jobs(
        self, guild_id: int | None, user_id: int | None = None, limit: int = 20
    ) -> list[JobRecord]:
        """Newest first."""
        if user_id is None:
            rows = await self.db.fetch_all(
                f"""SELECT {_COLUMNS} FROM jobs WHERE guild_id IS ?
                    ORDER BY created_at DESC, id DESC LIMIT ?""",
                (guild_id, limit),
            )
        else:
            rows = await self.db.fetch_all(
                f"""SELECT {_COLUMNS} FROM jobs INDEXED BY jobs_requester_guild_created
                   WHERE requester_id = ? AND guild_id IS ?
                   ORDER BY created_at DESC, id DESC LIMIT ?""",
                (user_id, guild_id, limit),
            )
        return [JobRecord.from_row(r) for r in rows]

    async def jobs_between(self, guild_id: int | None, start: float, end: float) -> list[JobRecord]:
        """A guild's jobs created in [start, end), oldest first."""
        rows = await self.db.fetch_all(
            f"""SELECT {_COLUMNS} FROM jobs
                WHERE guild_id IS ? AND created_at >= ? AND created_at < ?
                ORDER BY created_at, id""",
            (guild_id, start, end),
        )
        return [JobRecord.from_row(r) for r in rows]

    async def children(self, parent_job_id: int) -> list[JobRecord]:
        """Jobs started from the buttons of `parent_job_id`, oldest first."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM jobs WHERE parent_job_id = ? ORDER BY id", (parent_job_id,)
        )
        return [JobRecord.from_row(r) for r in rows]
