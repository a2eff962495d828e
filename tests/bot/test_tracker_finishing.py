"""Tasks near their end are read again between full poll cycles (issue 12: the final image on
Discord soon after the proxy finished), in a batch of their own; finished jobs are told first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.job_updates import FINISHING_PERCENT, Followed, next_poll
from bot.midjourney.client import MidjourneyClient
from bot.midjourney.simulator import ManualClock, Simulator
from bot.tracker import Tracker
from storage.jobs import JobRecord, JobRepository
from tests.bot.test_tracker import KEY, started, submit_jobs

LIST = "/task/list-by-condition"
NOW = lambda: 1000.0  # noqa: E731 (the database's clock: no job is overdue)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        "plus", api_key=KEY, clock=ManualClock(), max_concurrent=10, seconds_per_job=100
    )
    yield simulator
    await simulator.stop()


def _followed(task_id: str, progress: int | None, state: str = "in_progress") -> Followed:
    return Followed(1, task_id, 9e9, "in_progress", seen=(state, progress, None, None))  # type: ignore[arg-type]


def test_finishing_tasks_are_due_before_the_full_cycle() -> None:
    tasks = [_followed("a", 50), _followed("b", FINISHING_PERCENT), _followed("c", 99)]
    # Right after a full cycle: the finishing ones in 1 s, the full cycle in 3 s.
    assert next_poll(tasks, since_full=0.0, since_any=0.0, full_delay=3.0, finishing_delay=1.0) == (
        1.0,
        ["b", "c"],
    )
    # 2.5 s into the interval, 0.5 s after a finishing poll: the full cycle comes first.
    assert next_poll(tasks, since_full=2.5, since_any=0.5, full_delay=3.0, finishing_delay=1.0) == (
        0.5,
        None,
    )
    # Nothing near its end, or no finishing polls (the proxy is failing): full cycles only.
    assert next_poll(
        tasks[:1], since_full=0.0, since_any=0.0, full_delay=3.0, finishing_delay=1.0
    ) == (3.0, None)
    assert next_poll(
        tasks, since_full=0.0, since_any=0.0, full_delay=3.0, finishing_delay=None
    ) == (3.0, None)
    # A queued task at a high "progress" is not running: not finishing.
    assert next_poll(
        [_followed("q", 95, "queued")],
        since_full=0.0,
        since_any=0.0,
        full_delay=3.0,
        finishing_delay=1.0,
    ) == (3.0, None)


async def _two_jobs(
    sim: Simulator, jobs: JobRepository
) -> tuple[MidjourneyClient, Tracker, JobRecord, JobRecord]:
    """A job at 95 % and one at 50 %, as the last full cycle saw them."""
    api = await started(sim)
    [near] = await submit_jobs(api, jobs, 1)
    sim.advance(45)
    [far] = await submit_jobs(api, jobs, 1)
    sim.advance(50)  # near: 95 %, far: 50 %
    tracker = Tracker(api, jobs, interval=3.0, batch_size=50, timeout_seconds=900, clock=NOW)
    for job in (near, far):
        tracker.follow(job)
    await tracker.poll_once()
    return api, tracker, near, far


async def test_a_finishing_task_is_read_alone_and_its_end_written(
    sim: Simulator, jobs: JobRepository
) -> None:
    api, tracker, near, far = await _two_jobs(sim, jobs)
    try:
        delay, ids = tracker.next_poll(since_full=0.0, since_any=0.0)
        assert (delay, ids) == (1.0, [near.task_id])
        assert ids is not None
        sim.advance(6)  # near: done; far: 56 %
        before = len(sim.requests)
        await tracker.poll_finishing(ids)
        lists = [r for r in sim.requests[before:] if r.path.endswith(LIST)]
        assert [r.json["ids"] for r in lists] == [[near.task_id]]
        done = await jobs.get(near.id)
        assert done is not None and done.state == "success"
        still = await jobs.get(far.id)
        assert still is not None and still.progress == 50  # progress waits for the full cycle
        assert tracker.followed_task_ids == [far.task_id]
    finally:
        await api.aclose()


async def test_the_loop_reads_a_finishing_task_long_before_the_interval(
    sim: Simulator, jobs: JobRepository
) -> None:
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        sim.advance(95)
        assert await jobs.update_progress(job.id, state="in_progress", progress=95)
        running = await jobs.get(job.id)
        assert running is not None
        sim.advance(10)  # the proxy has finished it; the next full cycle is an hour away
        tracker = Tracker(
            api,
            jobs,
            interval=3600.0,
            batch_size=50,
            timeout_seconds=7200,
            finishing_interval=0.01,
            clock=NOW,
        )
        ended = asyncio.Event()

        async def listener(changed: JobRecord) -> None:
            if changed.state == "success":
                ended.set()

        tracker.listener = listener
        tracker.follow(running)
        tracker.start()
        try:
            await asyncio.wait_for(ended.wait(), timeout=10)
        finally:
            await tracker.stop()
        assert sim.count(LIST) == 1
    finally:
        await api.aclose()


async def test_ended_jobs_are_told_before_progress(sim: Simulator, jobs: JobRepository) -> None:
    api = await started(sim)
    try:
        records = await submit_jobs(api, jobs, 5)
        sim.advance(60)
        [last] = await submit_jobs(api, jobs, 1)
        tracker = Tracker(api, jobs, interval=3.0, batch_size=50, timeout_seconds=900, clock=NOW)
        told: list[tuple[int, str]] = []

        async def listener(changed: JobRecord) -> None:
            told.append((changed.id, changed.state))

        tracker.listener = listener
        for job in [last, *records]:  # the running one is followed (and read) first
            tracker.follow(job)
        sim.advance(45)  # the first five end, the last one runs
        await tracker.poll_once()
        states = [state for _, state in told]
        assert states == ["success"] * 5 + ["in_progress"]
    finally:
        await api.aclose()
