"""Retention: finished jobs older than the configured days go; running and recent ones stay."""

from __future__ import annotations

from bot.retention import DAY, RetentionSweeper
from storage.db import Database
from storage.jobs import JobRepository
from storage.proxies import ProxyRepository
from tests.storage.support import add_proxy


async def test_sweep_purges_only_old_finished_jobs() -> None:
    now = [100 * DAY]
    db = await Database.open(":memory:", clock=lambda: now[0])
    try:
        jobs = JobRepository(db)

        async def new_job(prompt: str) -> int:
            job = await jobs.create_submitting(
                guild_id=1,
                channel_id=2,
                requester_id=3,
                kind="imagine",
                action="imagine",
                prompt=prompt,
            )
            return job.id

        old = await new_job("old and done")
        await jobs.complete(old, state="success")
        running = await new_job("old but running")
        await jobs.mark_submitted(running, "task-1")
        now[0] += 40 * DAY
        recent = await new_job("recent and done")
        await jobs.complete(recent, state="failure", failure="x")

        sweeper = RetentionSweeper(jobs, retention_days=30, clock=lambda: now[0])
        assert await sweeper.sweep() == 1
        assert await jobs.get(old) is None
        assert await jobs.get(running) is not None and await jobs.get(recent) is not None
        assert await RetentionSweeper(jobs, retention_days=0).sweep() == 0
    finally:
        await db.close()


async def test_sweep_then_deletes_the_proxies_nobody_uses_any_more() -> None:
    now = [100 * DAY]
    db = await Database.open(":memory:", clock=lambda: now[0])
    try:
        jobs, proxies = JobRepository(db), ProxyRepository(db)
        old = await add_proxy(proxies, 1, "https://old.example")
        job = await jobs.create_submitting(
            guild_id=1, channel_id=2, requester_id=3, kind="imagine", action="imagine", prompt="p"
        )
        await db.execute("UPDATE jobs SET proxy_id = ? WHERE id = ?", (old.id, job.id))
        await jobs.complete(job.id, state="success")
        assert await proxies.clear(1)
        sweeper = RetentionSweeper(jobs, retention_days=30, proxies=proxies, clock=lambda: now[0])
        assert await sweeper.sweep() == 0 and await proxies.get(old.id) == old  # its job stays
        now[0] += 31 * DAY
        assert await sweeper.sweep() == 1
        assert await proxies.get(old.id) is None  # and its encrypted key with it
    finally:
        await db.close()
