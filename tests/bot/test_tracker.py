"""The one batched poller, against the simulator over HTTP and a real (in-memory) database."""

from __future__ import annotations

from bot.midjourney.client import MidjourneyClient
from bot.midjourney.outcomes import Queued, Submitted
from bot.midjourney.simulator import ManualClock, Simulator
from bot.tracker import Tracker
from storage.jobs import JobRecord, JobRepository

KEY = "tracker-key"


class Sleeps:
    async def __call__(self, seconds: float) -> None:
        return None


async def started(sim: Simulator) -> MidjourneyClient:
    await sim.start()
    return MidjourneyClient(
        sim.base_url, sim.prefix, KEY, "mj-api-secret", timeout=5, sleep=Sleeps()
    )


async def submit_jobs(api: MidjourneyClient, jobs: JobRepository, count: int) -> list[JobRecord]:
    records = []
    for n in range(count):
        job = await jobs.create_submitting(
            guild_id=1,
            channel_id=2,
            requester_id=3,
            kind="imagine",
            action="imagine",
            prompt=f"p{n}",
        )
        outcome = await api.imagine(f"prompt {n}")
        assert isinstance(outcome, Submitted | Queued)
        records.append(await jobs.mark_submitted(job.id, outcome.task_id))
    return records


def tracker_for(api: MidjourneyClient, jobs: JobRepository, **options: float) -> Tracker:
    return Tracker(
        api,
        jobs,
        interval=options.get("interval", 1.0),
        batch_size=int(options.get("batch_size", 50)),
        timeout_seconds=options.get("timeout", 900.0),
        clock=lambda: options.get("now", 1000.0),
    )


async def test_one_batched_request_per_chunk_and_completion(jobs: JobRepository) -> None:
    sim = Simulator(
        "plus", api_key=KEY, clock=ManualClock(), max_concurrent=500, seconds_per_job=10
    )
    api = await started(sim)
    try:
        records = await submit_jobs(api, jobs, 120)
        tracker = tracker_for(api, jobs, batch_size=50)
        changed: list[JobRecord] = []

        async def listener(job: JobRecord) -> None:
            changed.append(job)

        tracker.listener = listener
        for job in records:
            tracker.follow(job)
        before = sim.count("/task/list-by-condition")
        sim.advance(5)
        await tracker.poll_once()
        assert sim.count("/task/list-by-condition") - before == 3  # 50 + 50 + 20
        assert sim.count("/fetch") == 0
        assert {j.state for j in changed} == {"in_progress"}
        sim.advance(10)
        await tracker.poll_once()
        assert not tracker.followed_task_ids
        done = await jobs.get(records[0].id)
        assert done is not None and done.state == "success" and done.buttons
    finally:
        await api.aclose()
        await sim.stop()


async def test_falls_back_to_fetch_without_the_batch_endpoint(jobs: JobRepository) -> None:
    sim = Simulator(
        "trueai", api_key=KEY, clock=ManualClock(), supports_list=False, seconds_per_job=10
    )
    await sim.start()
    api = MidjourneyClient(sim.base_url, sim.prefix, KEY, "raw", timeout=5, sleep=Sleeps())
    try:
        records = await submit_jobs(api, jobs, 3)
        tracker = tracker_for(api, jobs)
        for job in records:
            tracker.follow(job)
        sim.advance(11)
        await tracker.poll_once()
        await tracker.poll_once()
        assert sim.count("/fetch") >= 3
        assert not tracker.followed_task_ids
    finally:
        await api.aclose()
        await sim.stop()


async def test_errors_back_off_and_deadlines_fail_jobs(jobs: JobRepository) -> None:
    sim = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        now = [1000.0]
        tracker = Tracker(
            api, jobs, interval=1.0, batch_size=50, timeout_seconds=60, clock=lambda: now[0]
        )
        tracker.follow(job)
        sim.inject_fault("/task/list-by-condition", "http500", times=10)
        sim.inject_fault("/fetch", "http500", times=10)  # the whole service fails
        await tracker.poll_once()
        assert tracker.consecutive_failures == 1  # the next wait is doubled
        now[0] += 61
        await tracker.poll_once()
        failed = await jobs.get(job.id)
        assert failed is not None and failed.state == "failure"
        assert failed.failure == "mjbot:job.failure.timeout"
        assert not tracker.followed_task_ids
    finally:
        await api.aclose()
        await sim.stop()


async def test_ids_a_batch_leaves_out_are_fetched_one_by_one(jobs: JobRepository) -> None:
    sim = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    api = await started(sim)
    try:
        records = await submit_jobs(api, jobs, 2)
        tracker = tracker_for(api, jobs)
        for job in records:
            tracker.follow(job)
        sim.advance(11)
        first = await api.fetch(records[0].task_id or "")
        assert first is not None
        # A relay that lists only the first task (as new-api does for other keys' tasks).
        sim.inject_reply("/task/list-by-condition", [first.model_dump(by_alias=True)], times=1)
        fetches = sim.count("/fetch")
        await tracker.poll_once()
        assert sim.count("/fetch") == fetches + 1
        assert not tracker.followed_task_ids  # both finished
    finally:
        await api.aclose()
        await sim.stop()


async def test_a_405_for_the_batch_endpoint_also_falls_back(jobs: JobRepository) -> None:
    sim = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = tracker_for(api, jobs)
        tracker.follow(job)
        sim.inject_reply("/task/list-by-condition", {"error": "method"}, status=405, times=5)
        sim.advance(11)
        await tracker.poll_once()
        assert not tracker.followed_task_ids and tracker.consecutive_failures == 0
    finally:
        await api.aclose()
        await sim.stop()


async def test_a_queued_job_keeps_its_position_until_it_starts(jobs: JobRepository) -> None:
    sim = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10, max_concurrent=1)
    api = await started(sim)
    try:
        [running, waiting] = await submit_jobs(api, jobs, 2)
        queued = await jobs.mark_submitted(waiting.id, waiting.task_id or "", "queued", 1)
        tracker = tracker_for(api, jobs)
        tracker.follow(running)
        tracker.follow(queued)
        sim.advance(5)
        await tracker.poll_once()
        still = await jobs.get(queued.id)
        assert still is not None and (still.state, still.queue_position) == ("queued", 1)
        sim.advance(10)  # the first ends, the second starts
        await tracker.poll_once()
        moving = await jobs.get(queued.id)
        assert moving is not None and moving.state in ("in_progress", "success")
    finally:
        await api.aclose()
        await sim.stop()


async def test_an_outage_is_announced_on_running_jobs_and_lifted(jobs: JobRepository) -> None:
    sim = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = tracker_for(api, jobs)
        told: list[bool] = []

        async def listener(changed: JobRecord) -> None:
            told.append(tracker.outage)

        tracker.listener = listener
        tracker.follow(job)
        sim.inject_fault("/task/list-by-condition", "http500", times=3 * 4)  # 4 tries per poll
        sim.inject_fault("/fetch", "http500", times=3)  # and the probe of a single fetch
        for _ in range(3):
            await tracker.poll_once()
        assert tracker.outage and told == [True]
        await tracker.poll_once()  # the proxy answers again
        assert not tracker.outage and told[:2] == [True, False] and told.count(True) == 1
    finally:
        await api.aclose()
        await sim.stop()
