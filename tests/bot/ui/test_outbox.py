"""The outbox: priorities, the global budget, buckets learned from headers, 429s by scope."""

from __future__ import annotations

import asyncio
import time

from bot.ui.outbox import Outbox, Priority, Route


async def _order(outbox: Outbox, requests: list[tuple[Priority, Route, str]]) -> list[str]:
    """Queue `requests` behind a held slot, release it, and return the grant order."""
    granted: list[str] = []
    blocker = Route.token("blocker")
    await outbox.acquire(Priority.FINAL, blocker)

    async def one(priority: Priority, route: Route, name: str) -> None:
        async with outbox.slot(priority, route):
            granted.append(name)

    tasks = [asyncio.create_task(one(*r)) for r in requests]
    await asyncio.sleep(0)
    assert not granted and outbox.waiting == len(requests)
    outbox.release(blocker)
    await asyncio.gather(*tasks)
    return granted


async def test_finals_go_before_first_messages_before_progress_edits() -> None:
    outbox = Outbox(max_in_flight=1)
    order = await _order(
        outbox,
        [
            (Priority.PROGRESS, Route.token("a"), "progress-1"),
            (Priority.FIRST, Route.token("b"), "first"),
            (Priority.PROGRESS, Route.token("c"), "progress-2"),
            (Priority.FINAL, Route.token("d"), "final"),
        ],
    )
    assert order == ["final", "first", "progress-1", "progress-2"]


async def test_the_global_budget_paces_channel_routes_but_not_tokens() -> None:
    outbox = Outbox(requests_per_second=5, max_in_flight=100)
    start = time.monotonic()
    times: list[float] = []

    async def send(route: Route) -> None:
        async with outbox.slot(Priority.PROGRESS, route):
            times.append(time.monotonic() - start)

    # 12 edits in 12 different channels: at most 5 in any second.
    await asyncio.gather(*(send(Route.edit(channel)) for channel in range(12)))
    assert len(times) == 12
    for t0 in times:
        assert sum(1 for t in times if t0 <= t < t0 + 0.95) <= 5
    assert times[-1] >= 2.0
    # The budget is spent, yet an interaction token is not bound by it.
    before = time.monotonic()
    await send(Route.token("x"))
    assert time.monotonic() - before < 0.2


async def test_a_channel_bucket_is_learned_from_the_headers() -> None:
    outbox = Outbox(requests_per_second=50)
    path = "/api/v10/channels/7/messages/9"
    headers = {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "0.4",
    }
    outbox.observe("PATCH", path, 200, headers)
    start = time.monotonic()
    async with outbox.slot(Priority.FINAL, Route.create(7)):  # creates: another bucket
        pass
    assert time.monotonic() - start < 0.2
    async with outbox.slot(Priority.FINAL, Route.edit(7)):
        waited = time.monotonic() - start
    assert 0.35 <= waited < 1.5
    # After the reset, the learned limit applies again: 4 more without waiting.
    start = time.monotonic()
    for _ in range(4):
        async with outbox.slot(Priority.PROGRESS, Route.edit(7)):
            pass
    assert time.monotonic() - start < 0.2


async def test_429s_are_counted_by_scope_and_a_global_one_pauses_channel_routes() -> None:
    outbox = Outbox()
    outbox.observe(
        "PATCH",
        "/api/v10/webhooks/1/secret-token/messages/2",
        429,
        {"X-RateLimit-Scope": "user", "Retry-After": "1"},
    )
    outbox.observe(
        "POST",
        "/api/v10/channels/3/messages",
        429,
        {"X-RateLimit-Scope": "global", "X-RateLimit-Global": "true", "Retry-After": "0.3"},
    )
    assert outbox.rate_limited == {"user": 1, "global": 1}
    start = time.monotonic()
    async with outbox.slot(Priority.FINAL, Route.edit(4)):
        assert time.monotonic() - start >= 0.25
    outbox.close()


async def test_a_cancelled_waiter_gives_its_place_away() -> None:
    outbox = Outbox(max_in_flight=1)
    await outbox.acquire(Priority.FINAL, Route.token("held"))
    waiting = asyncio.create_task(outbox.acquire(Priority.PROGRESS, Route.token("a")))
    await asyncio.sleep(0)
    waiting.cancel()
    outbox.release(Route.token("held"))
    async with outbox.slot(Priority.PROGRESS, Route.token("b")):
        pass
    assert outbox.waiting == 0


async def test_progress_edits_are_paced_on_every_route_finals_are_not() -> None:
    outbox = Outbox(progress_per_second=5, max_in_flight=100)
    start = time.monotonic()
    times: list[float] = []

    async def progress(n: int) -> None:
        async with outbox.slot(Priority.PROGRESS, Route.token(f"job-{n}")):
            times.append(time.monotonic() - start)

    waiting = asyncio.gather(*(progress(n) for n in range(12)))
    await asyncio.sleep(0.1)
    before = time.monotonic()
    async with outbox.slot(Priority.FINAL, Route.token("final")):
        assert time.monotonic() - before < 0.2  # a final never waits for the progress budget
    await waiting
    for t0 in times:
        assert sum(1 for t in times if t0 <= t < t0 + 0.95) <= 5
    assert times[-1] >= 2.0


async def test_progress_edits_leave_a_quarter_of_the_slots_to_finals() -> None:
    outbox = Outbox(max_in_flight=8)
    assert outbox.reserve == 2
    for n in range(6):  # slow progress edits in flight
        await outbox.acquire(Priority.PROGRESS, Route.token(f"progress-{n}"))
    seventh = asyncio.create_task(outbox.acquire(Priority.PROGRESS, Route.token("progress-6")))
    await asyncio.sleep(0)
    assert not seventh.done()  # the last two slots are not for progress edits
    for n in range(2):  # ...but finals get them at once
        await asyncio.wait_for(outbox.acquire(Priority.FINAL, Route.token(f"final-{n}")), 1)
    outbox.release(Route.token("progress-0"))
    await asyncio.wait_for(seventh, 1)


async def test_a_spent_progress_budget_does_not_look_at_every_waiting_edit() -> None:
    outbox = Outbox(progress_per_second=1, max_in_flight=100)
    looked = 0
    ready_at = outbox._ready_at

    def counting(*args: object) -> float:
        nonlocal looked
        looked += 1
        return ready_at(*args)  # type: ignore[arg-type]

    outbox._ready_at = counting  # type: ignore[method-assign]
    waiting = [
        asyncio.create_task(outbox.acquire(Priority.PROGRESS, Route.token(f"job-{n}")))
        for n in range(1000)
    ]
    await asyncio.sleep(0)
    # Twenty finals come and go while the 999 edits wait for the progress budget.
    for n in range(20):
        async with outbox.slot(Priority.FINAL, Route.token(f"final-{n}")):
            pass
    assert sum(task.done() for task in waiting) == 1
    assert looked < 100  # not 999 for every acquire and release
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    outbox.close()
