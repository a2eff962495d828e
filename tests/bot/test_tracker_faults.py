"""The tracker under faults: one broken task, a locked database, and what a cycle writes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import storage.sqlite
from bot.midjourney.simulator import ManualClock, Simulator
from bot.tracker import Tracker
from storage.db import Database
from storage.jobs import JobRecord, JobRepository
from tests.bot.test_tracker import KEY, started, submit_jobs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    yield simulator
    await simulator.stop()


def tracker_for(api: Any, jobs: JobRepository, clock: Callable[[], float]) -> Tracker:
    return Tracker(api, jobs, interval=1.0, batch_size=50, timeout_seconds=900.0, clock=clock)


def break_task(sim: Simulator, task_id: str) -> None:
    """The batch leaves the task out (as if the proxy lost it)."""
    sim.tasks.pop(task_id)


@pytest.mark.parametrize("fault", ["http500", "timeout"])
async def test_a_task_whose_fetch_fails_holds_nobody_else_up(
    sim: Simulator, jobs: JobRepository, fault: str
) -> None:
    api = await started(sim)
    try:
        broken, healthy = await submit_jobs(api, jobs, 2)
        assert broken.task_id is not None
        clock = Clock()
        tracker = tracker_for(api, jobs, clock)
        tracker.follow(broken)
        tracker.follow(healthy)
        break_task(sim, broken.task_id)
        sim.inject_fault(f"/task/{broken.task_id}/fetch", fault, times=100)  # type: ignore[arg-type]
        api.timeout = 0.3  # a hung fetch gives up quickly here
        sim.advance(11)
        await tracker.poll_once()
        done = await jobs.get(healthy.id)
        assert done is not None and done.state == "success"
        waiting = await jobs.get(broken.id)
        assert waiting is not None and waiting.state == "submitted"
        assert tracker.followed_task_ids == [broken.task_id]
        # The service answered the batch: no backoff, nobody is told it is not answering.
        assert tracker.consecutive_failures == 0 and tracker.health.notice is None
    finally:
        sim.release_hangs()
        await api.aclose()


async def test_a_task_the_proxy_does_not_know_fails_after_a_grace_period(
    sim: Simulator, jobs: JobRepository
) -> None:
    api = await started(sim)
    try:
        [lost] = await submit_jobs(api, jobs, 1)
        assert lost.task_id is not None
        clock = Clock()
        tracker = tracker_for(api, jobs, clock)
        tracker.follow(lost)
        break_task(sim, lost.task_id)
        sim.inject_reply(f"/task/{lost.task_id}/fetch", {"error": "no"}, status=404, times=100)
        await tracker.poll_once()
        assert tracker.followed_task_ids == [lost.task_id]  # not yet: relays list late
        clock.now += 121
        await tracker.poll_once()
        failed = await jobs.get(lost.id)
        assert failed is not None and failed.state == "failure"
        assert failed.failure == "mjbot:proxy.failure.unknown_task"
        assert not tracker.followed_task_ids and tracker.consecutive_failures == 0
    finally:
        await api.aclose()


@asynccontextmanager
async def counting_transactions(db: Database) -> AsyncIterator[list[int]]:
    """Count every write transaction opened on `db` (instrumentation of the storage layer)."""
    opened = [0]
    original = db.transaction

    @asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        opened[0] += 1
        async with original() as tx:
            yield tx

    db.transaction = counted  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        db.transaction = original  # type: ignore[method-assign]


async def test_a_cycle_writes_only_what_changed_in_one_transaction(
    sim: Simulator, jobs: JobRepository
) -> None:
    sim.max_concurrent = 100
    api = await started(sim)
    try:
        records = await submit_jobs(api, jobs, 30)
        tracker = tracker_for(api, jobs, Clock())
        for job in records:
            tracker.follow(job)
        sim.advance(5)
        async with counting_transactions(jobs.db) as opened:
            changes = jobs.db._writer.total_changes
            await tracker.poll_once()  # all 30 move to in_progress: one transaction
            assert opened[0] == 1
            assert jobs.db._writer.total_changes - changes == 30
            changes = jobs.db._writer.total_changes
            await tracker.poll_once()  # nothing moved: nothing written at all
            await tracker.poll_once()
            assert opened[0] == 1
            assert jobs.db._writer.total_changes == changes
            sim.advance(10)
            await tracker.poll_once()  # all 30 end: one transaction
            assert opened[0] == 2 and not tracker.followed_task_ids
    finally:
        await api.aclose()


async def test_the_end_of_a_job_survives_a_locked_database(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.sqlite, "BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "jobs.sqlite3"
    db = await Database.open(path)
    repo = JobRepository(db)
    api = await started(sim)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        [job] = await submit_jobs(api, repo, 1)
        tracker = tracker_for(api, repo, Clock())
        told: list[tuple[str, str | None]] = []

        async def listener(changed: JobRecord) -> None:
            told.append((changed.state, tracker.health.notice))

        tracker.listener = listener
        tracker.follow(job)
        sim.advance(11)
        blocker.execute("BEGIN IMMEDIATE")  # a backup or a VACUUM holds the write lock
        await tracker.poll_once()
        still = await repo.get(job.id)
        assert still is not None and still.state == "submitted"
        assert tracker.followed_task_ids == [job.task_id]  # not dropped: retried next cycle
        assert told == [("submitted", "proxy.notice.storage")]  # the member is told plainly
        blocker.execute("COMMIT")
        await tracker.poll_once()
        done = await repo.get(job.id)
        assert done is not None and done.state == "success" and done.image_url
        assert not tracker.followed_task_ids and tracker.health.notice is None
        assert told[-1] == ("success", None)
    finally:
        blocker.close()
        await api.aclose()
        await db.close()
