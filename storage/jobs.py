"""Jobs: recorded before their submit, followed to their end, purged after retention."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from storage.db import ConstraintViolation, Database, StorageError, Transaction
from storage.history import MemberJobs
from storage.job_queries import JobQueries
from storage.messages import JobMessages, MessageTaken
from storage.records import (
    JOB_KINDS,
    JOB_STATES,
    TERMINAL_STATES,
    JobButton,
    JobKind,
    JobMedia,
    JobRecord,
    JobState,
    MessageRecord,
    NewJob,
    buttons_to_json,
    job_columns,
)

__all__ = [
    "JobButton",
    "JobMedia",
    "JobRecord",
    "JobRepository",
    "MessageRecord",
    "MessageTaken",
    "NewJob",
    "TaskAlreadyTracked",
    "insert_job",
]

log = logging.getLogger(__name__)

_COLUMNS = job_columns()
_TERMINAL_SQL = "('success', 'failure', 'cancelled', 'unknown')"


class TaskAlreadyTracked(StorageError):
    """The proxy task id is already recorded for another job (code 21 "existing task")."""

    def __init__(self, task_id: str, job_id: int) -> None:
        super().__init__(f"task {task_id} is already tracked by job {job_id}")
        self.task_id = task_id
        self.job_id = job_id


class JobRepository(JobMessages, JobQueries, MemberJobs):
    """Jobs: recorded, moved along and purged (this module), looked up (`storage.job_queries`),
    their messages and clicked buttons (`storage.messages`), and a member's own jobs page by page
    (`storage.history`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_submitting(
        self,
        *,
        guild_id: int | None,
        channel_id: int,
        requester_id: int,
        kind: JobKind,
        action: str,
        prompt: str,
        parent_job_id: int | None = None,
        custom_id: str | None = None,
        button_index: int | None = None,
        units: float = 0.0,
        locale: str | None = None,
        deadline_at: float | None = None,
    ) -> JobRecord:
        """Record a job before its submit is sent; committed when this returns."""
        return await self.create(
            NewJob(
                guild_id=guild_id,
                channel_id=channel_id,
                requester_id=requester_id,
                kind=kind,
                action=action,
                prompt=prompt,
                parent_job_id=parent_job_id,
                custom_id=custom_id,
                button_index=button_index,
                units=units,
                locale=locale,
                deadline_at=deadline_at,
            )
        )

    async def create(self, new: NewJob) -> JobRecord:
        """`create_submitting` taking a NewJob."""
        async with self.db.transaction() as tx:
            return await insert_job(tx, new, self.db.now())

    async def mark_submitted(
        self,
        job_id: int,
        task_id: str,
        state: JobState = "submitted",
        queue_position: int | None = None,
    ) -> JobRecord:
        """Store the proxy's task id once the submit was accepted.

        Raises TaskAlreadyTracked when another job already follows that task.
        """
        _check_state(state)
        now = self.db.now()
        try:
            await self.db.execute(
                """UPDATE jobs SET task_id = ?, state = ?, queue_position = ?, submitted_at = ?,
                       failure = NULL, finished_at = NULL, updated_at = ?
                   WHERE id = ?""",
                (task_id, state, queue_position, now, now, job_id),
            )
        except ConstraintViolation as exc:
            other = await self.get_by_task_id(task_id)
            if other is None:
                raise
            raise TaskAlreadyTracked(task_id, other.id) from exc
        return await self._require(job_id)

    async def mark_unknown(self, job_id: int, reason: str) -> bool:
        """A submit that may or may not have reached the proxy: terminal, and never resent.

        Only a job still 'submitting' changes; returns whether it did.
        """
        now = self.db.now()
        result = await self.db.execute(
            """UPDATE jobs SET state = 'unknown', failure = ?, finished_at = ?, updated_at = ?
               WHERE id = ? AND state = 'submitting'""",
            (reason, now, now, job_id),
        )
        return result.rowcount > 0

    async def update_progress(
        self,
        job_id: int,
        *,
        state: JobState,
        progress: int | None = None,
        status_text: str | None = None,
        preview_url: str | None = None,
        queue_position: int | None = None,
    ) -> bool:
        """Store what a poll saw; returns False when nothing changed or the job is finished."""
        _check_state(state)
        if state in TERMINAL_STATES:
            raise ValueError("use complete() for a terminal state")
        now = self.db.now()
        result = await self.db.execute(
            f"""UPDATE jobs SET state = ?, progress = ?, status_text = ?, preview_url = ?,
                    queue_position = ?, updated_at = ?,
                    started_at = CASE WHEN ? = 'in_progress' THEN coalesce(started_at, ?)
                                      ELSE started_at END
                WHERE id = ? AND state NOT IN {_TERMINAL_SQL}
                  AND (state IS NOT ? OR progress IS NOT ? OR status_text IS NOT ?
                       OR preview_url IS NOT ? OR queue_position IS NOT ?)""",
            (
                state,
                progress,
                status_text,
                preview_url,
                queue_position,
                now,
                state,
                now,
                job_id,
                state,
                progress,
                status_text,
                preview_url,
                queue_position,
            ),
        )
        return result.rowcount > 0

    async def complete(
        self,
        job_id: int,
        *,
        state: JobState,
        image_url: str | None = None,
        attachment_url: str | None = None,
        buttons: Sequence[JobButton | Mapping[str, Any]] = (),
        final_prompt: str | None = None,
        failure: str | None = None,
        media: JobMedia | None = None,
    ) -> bool:
        """Finish a job (success, failure, cancelled); False if it had already finished."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"{state!r} is not a terminal state")
        now = self.db.now()
        result = await self.db.execute(
            f"""UPDATE jobs SET state = ?, image_url = ?, attachment_url = ?, buttons_json = ?,
                    media_json = ?, final_prompt = coalesce(?, final_prompt), failure = ?,
                    finished_at = ?,
                    progress = CASE WHEN ? = 'success' THEN 100 ELSE progress END,
                    queue_position = NULL, updated_at = ?
                WHERE id = ? AND state NOT IN {_TERMINAL_SQL}""",
            (
                state,
                image_url,
                attachment_url,
                buttons_to_json(buttons),
                media.to_json() if media is not None else None,
                final_prompt,
                failure,
                now,
                state,
                now,
                job_id,
            ),
        )
        return result.rowcount > 0

    async def cancel(self, job_id: int, reason: str) -> bool:
        """Stop a job that has not finished (moderator cancel, refused charge, deadline)."""
        return await self.complete(job_id, state="cancelled", failure=reason)

    async def set_attachment(self, job_id: int, url: str) -> bool:
        """Remember the Discord attachment the final image was uploaded as."""
        result = await self.db.execute(
            "UPDATE jobs SET attachment_url = ?, updated_at = ? WHERE id = ?",
            (url, self.db.now(), job_id),
        )
        return result.rowcount > 0

    # Retention -----------------------------------------------------------------------------

    async def purge_finished_before(self, cutoff: float, *, batch_size: int = 500) -> int:
        """Delete jobs that finished before `cutoff` (their messages and clicks go with them).

        Short batches keep the write lock free for the bot; each batch hands its freed pages back
        to the file system (auto_vacuum=INCREMENTAL). Returns the number of jobs deleted.
        """
        total = 0
        while True:
            async with self.db.transaction() as tx:
                result = await tx.execute(
                    f"""DELETE FROM jobs WHERE id IN (
                            SELECT id FROM jobs INDEXED BY jobs_finished
                            WHERE finished_at IS NOT NULL AND finished_at < ?
                              AND state IN {_TERMINAL_SQL}
                            LIMIT ?)""",
                    (cutoff, batch_size),
                )
            await self.db.reclaim_space()
            total += result.rowcount
            if result.rowcount < batch_size:
                break
        if total:
            await self.db.checkpoint()
            log.info("purged %d jobs finished before %.0f", total, cutoff)
        return total

    async def _require(self, job_id: int) -> JobRecord:
        job = await self.get(job_id)
        if job is None:
            raise StorageError(f"job {job_id} does not exist")
        return job


async def insert_job(tx: Transaction, new: NewJob, now: float) -> JobRecord:
    """Insert a 'submitting' job inside an open transaction and return it."""
    if new.kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {new.kind!r}")
    row = await tx.fetch_one(
        f"""INSERT INTO jobs (guild_id, channel_id, requester_id, kind, action, prompt,
               parent_job_id, custom_id, button_index, units, locale, deadline_at,
               proxy_id, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?)
           RETURNING {_COLUMNS}""",
        (
            new.guild_id,
            new.channel_id,
            new.requester_id,
            new.kind,
            new.action,
            new.prompt,
            new.parent_job_id,
            new.custom_id,
            new.button_index,
            new.units,
            new.locale,
            new.deadline_at,
            new.proxy_id,
            now,
            now,
        ),
    )
    assert row is not None
    return JobRecord.from_row(row)


def _check_state(state: str) -> None:
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}")
