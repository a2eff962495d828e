"""What the tracker makes of refusals on polls: a refused key, 429s, a refused batch route."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.midjourney.simulator import ManualClock, Simulator
from bot.midjourney.simulator.quirks import parse_quirks
from bot.tracker import BATCH_RETRY_SECONDS, Tracker
from storage.jobs import JobRecord, JobRepository
from tests.bot.test_tracker import KEY, started, submit_jobs
from tests.bot.test_tracker_faults import Clock


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10)
    yield simulator
    await simulator.stop()


class Told:
    """What members (job listener) and moderators (audit alerts) were told."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.notices: list[str | None] = []
        self.alerts: list[tuple[int, str]] = []
        tracker.listener = self.listener
        tracker.health.alert = self.alert

    async def listener(self, job: JobRecord) -> None:
        self.notices.append(self.tracker.health.notice)

    async def alert(self, guild_id: int, key: str) -> None:
        self.alerts.append((guild_id, key))


def make_tracker(api: object, jobs: JobRepository, clock: Clock) -> Tracker:
    return Tracker(api, jobs, interval=1.0, batch_size=50, timeout_seconds=900.0, clock=clock)  # type: ignore[arg-type]


async def test_a_refused_key_is_confirmed_told_once_and_ends_by_itself(
    sim: Simulator, jobs: JobRepository, caplog: pytest.LogCaptureFixture
) -> None:
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = make_tracker(api, jobs, Clock())
        told = Told(tracker)
        tracker.follow(job)
        sim.quirks = parse_quirks("refuse-key-on-polls")  # trueai: 403 "Invalid token."
        await tracker.poll_once()
        assert tracker.health.notice is None and not told.notices  # one refusal: not yet
        for _ in range(4):
            await tracker.poll_once()
        assert tracker.health.notice == "proxy.notice.key_refused"
        assert told.notices == ["proxy.notice.key_refused"]  # members told once
        assert told.alerts == [(1, "proxy.audit.key_refused")]  # the server's audit, once
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1
        assert "midjourney.api_key" in errors[0].message
        assert "auth_style" in errors[0].message
        assert "not answering" not in " ".join(r.message for r in caplog.records)
        assert tracker.next_delay() == 16.0  # polls slowly meanwhile
        sim.quirks = frozenset()  # the operator fixed the key: no restart
        sim.advance(11)
        await tracker.poll_once()
        done = await jobs.get(job.id)
        assert done is not None and done.state == "success"
        assert tracker.health.notice is None and tracker.next_delay() == 1.0
    finally:
        await api.aclose()


@pytest.mark.parametrize(
    ("quirk", "notice", "alerts"),
    [
        ("saturated-429", "proxy.notice.busy", []),
        ("quota-429", "proxy.notice.quota", [(1, "proxy.audit.quota")]),
        ("rate-limit-429", "proxy.notice.busy", []),
    ],
)
async def test_429s_on_polls_are_not_an_outage(
    sim: Simulator,
    jobs: JobRepository,
    quirk: str,
    notice: str,
    alerts: list[tuple[int, str]],
) -> None:
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = make_tracker(api, jobs, Clock())
        told = Told(tracker)
        tracker.follow(job)
        sim.quirks = parse_quirks(quirk)
        for _ in range(4):
            await tracker.poll_once()
        assert tracker.health.notice == notice and not tracker.outage
        assert told.alerts == alerts
        if quirk == "rate-limit-429":
            assert tracker.next_delay() >= 2.0  # the Retry-After the service asked for
        sim.quirks = frozenset()
        sim.advance(11)
        await tracker.poll_once()
        assert tracker.health.notice is None and not tracker.followed_task_ids
    finally:
        await api.aclose()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": 4, "description": "参数错误"}),
        (403, {"error": {"message": "route not allowed for this token"}}),
        (500, {"code": 500, "message": "No static resource mj/task/list-by-condition."}),
    ],
)
async def test_a_refused_batch_route_falls_back_to_fetch_and_is_tried_again_later(
    sim: Simulator, jobs: JobRepository, status: int, body: dict[str, object]
) -> None:
    api = await started(sim)
    try:
        records = await submit_jobs(api, jobs, 2)
        clock = Clock()
        tracker = make_tracker(api, jobs, clock)
        for job in records:
            tracker.follow(job)
        sim.inject_reply("/task/list-by-condition", body, status=status, times=1000)
        sim.advance(5)
        await tracker.poll_once()
        moving = await jobs.get(records[0].id)
        assert moving is not None and moving.state == "in_progress"  # read through fetch
        assert tracker.consecutive_failures == 0 and tracker.health.notice is None
        batches = sim.count("/task/list-by-condition")
        await tracker.poll_once()
        assert sim.count("/task/list-by-condition") == batches  # not asked again at once
        clock.now += BATCH_RETRY_SECONDS + 1
        sim.advance(6)
        await tracker.poll_once()
        assert sim.count("/task/list-by-condition") > batches  # tried again later
        assert not tracker.followed_task_ids  # and the jobs still finished
    finally:
        await api.aclose()


async def test_a_long_retry_after_on_polls_is_waited_out_not_hammered(
    sim: Simulator, jobs: JobRepository
) -> None:
    api = await started(sim)
    api._backoff_cap = 0.5  # Retry-After: 2 is longer than the client's own backoff
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = make_tracker(api, jobs, Clock())
        tracker.follow(job)
        sim.quirks = parse_quirks("rate-limit-429")
        before = sim.count("/task/list-by-condition")
        await tracker.poll_once()
        assert sim.count("/task/list-by-condition") - before == 1  # not retried at once
        assert sim.count("/fetch") == 0  # nor probed: "slow down" is not a broken route
        assert tracker.next_delay() >= 2.0
    finally:
        await api.aclose()


@pytest.mark.parametrize(
    ("fault", "notice"),
    [("http500", "proxy.notice.failing"), ("connection_close", "job.status.proxy_down")],
)
async def test_errors_are_not_silence_and_silence_is_not_an_error(
    sim: Simulator, jobs: JobRepository, fault: str, notice: str
) -> None:
    api = await started(sim)
    try:
        [job] = await submit_jobs(api, jobs, 1)
        tracker = make_tracker(api, jobs, Clock())
        tracker.follow(job)
        sim.inject_fault("/task/list-by-condition", fault, times=100)  # type: ignore[arg-type]
        sim.inject_fault("/fetch", fault, times=100)  # type: ignore[arg-type]
        for _ in range(3):
            await tracker.poll_once()
        assert tracker.outage and tracker.health.notice == notice
    finally:
        await api.aclose()
