"""Coalescing of job-message edits: no edit storms, the final state is never held back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from bot.config import JobsSettings, Settings
from bot.ui.delivery import Delivery, Held
from bot.ui.outbox import Outbox, Priority
from bot.ui.presenter import JobPresenter, _Coalescer
from storage.db import Database
from storage.jobs import JobRepository
from storage.messages import JobDisplay
from storage.records import JobRecord, MessageRecord
from tests.bot.factories import job as make_job


class LatestJob:
    """Stands in for the job repository: always returns the newest version of one job."""

    def __init__(self, job: JobRecord) -> None:
        self.job = job

    async def get(self, job_id: int) -> JobRecord:
        return self.job

    async def display(self, job_id: int) -> JobDisplay:
        return JobDisplay(self.job, None, None, frozenset())


class RecordingPresenter(JobPresenter):
    def __init__(self, jobs: LatestJob, interval: float, clock: Any) -> None:
        settings = Settings(jobs=JobsSettings(edit_interval_seconds=interval))
        super().__init__(None, jobs, settings, None, clock=clock)  # type: ignore[arg-type]
        self.flushed: list[tuple[str, int | None]] = []

    async def _flush(self, shown: JobDisplay, state: _Coalescer, held: Held) -> None:
        self.flushed.append((shown.job.state, shown.job.progress))
        state.last_edit = self._clock()


async def settle(presenter: JobPresenter) -> None:
    while presenter._tasks:
        await asyncio.gather(*list(presenter._tasks), return_exceptions=True)


async def test_bursts_of_changes_become_one_edit_and_the_final_one_is_immediate() -> None:
    job = make_job(state="in_progress", progress=10)
    jobs = LatestJob(job)
    loop = asyncio.get_running_loop()
    presenter = RecordingPresenter(jobs, interval=30.0, clock=loop.time)

    for pct in (10, 20, 30, 40, 50):
        jobs.job = replace(job, progress=pct)
        await presenter.job_changed(jobs.job)
    await settle(presenter)
    assert presenter.flushed == [("in_progress", 50)]  # one edit, showing the newest state

    jobs.job = replace(job, progress=60)
    await presenter.job_changed(jobs.job)  # within 30 s of the last edit: waits
    await asyncio.sleep(0)
    assert len(presenter.flushed) == 1

    jobs.job = replace(job, state="success", progress=100)
    await presenter.job_changed(jobs.job)  # final: not held back by the interval
    await settle(presenter)
    assert presenter.flushed == [("in_progress", 50), ("success", 100)]
    await presenter.close()


class SlowPresenter(RecordingPresenter):
    """Its edits wait until the test lets them through, like a slow Discord."""

    def __init__(self, jobs: LatestJob, interval: float, clock: Any) -> None:
        super().__init__(jobs, interval, clock)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def _flush(self, shown: JobDisplay, state: _Coalescer, held: Held) -> None:
        self.started.set()
        await self.release.wait()
        await super()._flush(shown, state, held)


async def test_the_end_of_a_job_during_an_edit_in_flight_is_sent_after_it() -> None:
    job = make_job(state="in_progress", progress=10)
    jobs = LatestJob(job)
    presenter = SlowPresenter(jobs, interval=30.0, clock=asyncio.get_running_loop().time)
    await presenter.job_changed(job)
    await presenter.started.wait()  # the progress edit is on its way to Discord
    jobs.job = replace(job, state="success", progress=100)
    await presenter.job_changed(jobs.job)
    presenter.release.set()
    await settle(presenter)
    assert presenter.flushed[-1] == ("success", 100)
    assert presenter._states == {}  # nothing kept for a finished job
    await presenter.close()


class RecordingDelivery(Delivery):
    """The real delivery (routes, outbox slots) whose Discord call is only recorded."""

    def __init__(self) -> None:
        super().__init__(None, Outbox())  # type: ignore[arg-type]
        self.edited: list[str] = []

    async def edit(
        self, record: MessageRecord, kwargs: dict[str, Any], priority: Priority, held: Held
    ) -> Any:
        await self.hold(held, priority, self.route(record))
        self.edited.append(kwargs["content"])
        return SimpleNamespace(attachments=[])


class Discordless(JobPresenter):
    """The real presenter over a real database; only the two Discord calls are recorded."""

    def __init__(self, jobs: JobRepository) -> None:
        settings = Settings(jobs=JobsSettings(edit_interval_seconds=0.0))
        super().__init__(None, jobs, settings, None)  # type: ignore[arg-type]
        self.posted: list[int] = []
        self.delivery = self._delivery = RecordingDelivery()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def _post(self, job: JobRecord, reply_to: int | None, interaction: Any) -> Any:
        shown = await self._jobs.display(job.id)
        assert shown is not None
        rendered = self._render(shown)
        self.sending.set()
        await self.release.wait()  # Discord is slow to answer
        message_id = 1000 + len(self.posted)
        self.posted.append(message_id)
        record = await self._jobs.add_message(message_id, job.id, job.channel_id, job.guild_id)
        return SimpleNamespace(id=message_id), rendered, record


async def submitted_job(db: Database) -> tuple[JobRepository, JobRecord]:
    """A job the proxy accepted, with no message yet."""
    jobs = JobRepository(db)
    job = await jobs.create_submitting(
        guild_id=1, channel_id=2, requester_id=3, kind="imagine", action="imagine", prompt="a"
    )
    return jobs, await jobs.mark_submitted(job.id, "task-1")


async def test_an_update_while_the_first_message_is_posted_does_not_post_another() -> None:
    db = await Database.open(":memory:")
    try:
        jobs, job = await submitted_job(db)
        presenter = Discordless(jobs)
        posting = asyncio.create_task(presenter.post_reply(job, reply_to=None))
        await presenter.sending.wait()
        await jobs.update_progress(job.id, state="in_progress", progress=40)
        moved = await jobs.get(job.id)
        assert moved is not None
        await presenter.job_changed(moved)  # the tracker saw progress before the message exists
        # That update must not post a message of its own (it would wait on Discord here).
        await asyncio.wait_for(settle(presenter), timeout=5)
        presenter.release.set()
        await posting
        await settle(presenter)
        assert presenter.posted == [1000]  # one job message, not two
        edited = presenter.delivery.edited
        assert edited and "40%" in edited[-1]  # and it caught up
        await presenter.close()
    finally:
        await db.close()


class RecordedFirst(Discordless):
    """Its job message is recorded before the post returns (the last await of a post)."""

    def __init__(self, jobs: JobRepository) -> None:
        super().__init__(jobs)
        self.recorded = asyncio.Event()
        self.returns = asyncio.Event()

    async def _post(self, job: JobRecord, reply_to: int | None, interaction: Any) -> Any:
        self.release.set()
        posted = await super()._post(job, reply_to, interaction)
        self.recorded.set()
        await self.returns.wait()  # the test's update is read in between
        return posted


async def test_an_update_between_recording_the_message_and_the_post_returning_waits() -> None:
    """The first message was just recorded, but its post has not returned: an update read then
    must not edit the message at once (it was measured 0.04 s after its creation under load)."""
    db = await Database.open(":memory:")
    try:
        jobs, job = await submitted_job(db)
        presenter = RecordedFirst(jobs)
        posting = asyncio.create_task(presenter.post_reply(job, reply_to=None))
        await presenter.recorded.wait()
        assert await jobs.update_progress(job.id, state="in_progress", progress=40)
        moved = await jobs.get(job.id)
        assert moved is not None
        await presenter.job_changed(moved)
        flush = next(iter(presenter._tasks))
        await asyncio.wait_for(asyncio.shield(flush), timeout=5)
        assert presenter.delivery.edited == []  # nothing sent before the post has returned
        presenter.returns.set()
        await posting
        await settle(presenter)
        edited = presenter.delivery.edited
        assert len(edited) == 1 and "40%" in edited[0]  # post_reply caught up, once
        await presenter.close()
    finally:
        await db.close()
