"""Retention: finished jobs older than the cutoff go, with their messages and clicks."""

from __future__ import annotations

from pathlib import Path

from storage import Repositories
from tests.storage.support import T0, FakeClock, new_job


async def test_purge_deletes_old_finished_jobs_only(repos: Repositories, clock: FakeClock) -> None:
    old_done = await new_job(repos)
    await repos.jobs.add_message(1, old_done.id, 100, 1)
    await repos.jobs.complete(old_done.id, state="success")
    old_running = await new_job(repos)
    await repos.jobs.mark_submitted(old_running.id, "task-1")
    old_submitting = await new_job(repos)
    child = await new_job(repos, parent_job_id=old_done.id, button_index=0)
    await repos.jobs.record_button_use(old_done.id, 0, 10, child.id)
    await repos.usage.charge_if_allowed(
        1,
        10,
        old_done.id,
        "imagine",
        1,
        user_limit=None,
        guild_cap=None,
        since=T0,
        max_user_in_flight=None,
        max_guild_in_flight=None,
    )
    clock.advance(100)
    recent_done = await new_job(repos)
    await repos.jobs.complete(recent_done.id, state="failure", failure="x")

    assert await repos.jobs.purge_finished_before(T0 + 50, batch_size=1) == 1

    assert await repos.jobs.get(old_done.id) is None
    assert await repos.jobs.job_for_message(1) is None
    assert await repos.jobs.messages_for_job(old_done.id) == []
    assert await repos.jobs.used_buttons(old_done.id) == frozenset()
    orphan = await repos.jobs.get(child.id)
    assert orphan is not None and orphan.parent_job_id is None
    remaining = {j.id for j in await repos.jobs.jobs_between(1, 0, T0 + 1000)}
    assert remaining == {old_running.id, old_submitting.id, child.id, recent_done.id}
    # Usage outlives the job so quotas and totals stay right.
    assert await repos.usage.usage_since(1, 10, T0) == 1.0
    assert await repos.jobs.purge_finished_before(T0 + 50) == 0


async def test_purge_in_batches_shrinks_the_file(db_path: Path, clock: FakeClock) -> None:
    async with await Repositories.open(db_path, clock=clock) as repos:
        async with repos.db.transaction() as tx:
            await tx.executemany(
                """INSERT INTO jobs (guild_id, channel_id, requester_id, kind, action, prompt,
                       state, created_at, updated_at, finished_at)
                   VALUES (1, 100, 10, 'imagine', 'imagine', ?, 'success', ?, ?, ?)""",
                [("x" * 500, T0, T0, T0) for _ in range(2000)],
            )
        await repos.db.checkpoint()
        pages_before = await repos.db.fetch_value("PRAGMA page_count")
        assert await repos.jobs.purge_finished_before(T0 + 1, batch_size=300) == 2000
        assert await repos.db.fetch_value("SELECT count(*) FROM jobs") == 0
        assert await repos.db.fetch_value("PRAGMA freelist_count") == 0
        assert await repos.db.fetch_value("PRAGMA page_count") < pages_before / 4
