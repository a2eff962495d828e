"""Interaction-ack latency: 100 members click the buttons of one finished grid at the same moment.

Each figure is the time from the fake Discord starting to send INTERACTION_CREATE to the bot's
callback (type 5, 6 or 9) arriving at the fake. mjbot runs as `python -m bot run` in its own
process, as in production; this process plays Discord, the simulator runs in a third.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/ack_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import (
    UNLIMITED,
    bot_process,
    machine,
    members,
    quiet_logs,
    start_child_simulator,
)
from tests.e2e.steps import components, wait_job_message
from tests.fakes.discord import FakeDiscord, Member, User


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


class AckClock:
    """Stamps each injected interaction when its callback reaches the fake."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.sent: dict[str, float] = {}
        self.acked: dict[str, float] = {}
        self._fake = fake
        self._notify = fake.notify
        fake.notify = self._on_change  # type: ignore[method-assign]

    def _on_change(self) -> None:
        now = time.perf_counter()
        for token in self.sent.keys() - self.acked.keys():
            handle = self._fake.interactions.get(token)
            if handle is not None and handle.response is not None:
                self.acked[token] = now
        self._notify()

    def close(self) -> None:
        self._fake.notify = self._notify  # type: ignore[method-assign]

    async def click(self, message_id: int, custom_id: str, user: User) -> int | None:
        started = time.perf_counter()
        handle = await self._fake.click(message_id, custom_id, user=user)
        self.sent[handle.token] = started
        self._on_change()  # the callback may have arrived before this coroutine resumed
        return handle.response_type

    def latencies_ms(self) -> list[float]:
        return [(self.acked[t] - self.sent[t]) * 1000 for t in self.sent]


async def finished_grid(fake: FakeDiscord, prompt: str) -> dict[str, object]:
    newest = max(fake.messages, default=0)
    handle = await fake.slash("imagine", {"prompt": prompt})
    await handle.wait_response(timeout=10)
    posted = await wait_job_message(fake, prompt, after=newest)
    message_id = int(posted["id"])
    return await fake.wait_for(
        lambda: (m := fake.messages[message_id]).get("attachments") and m, timeout=60
    )


async def burst(fake: FakeDiscord, grid: dict[str, object], clicks: int) -> list[float]:
    buttons = [c["custom_id"] for c in components(grid) if c.get("style") != 5]
    users = members(fake)
    clock = AckClock(fake)
    try:
        await asyncio.gather(
            *(
                clock.click(int(str(grid["id"])), buttons[n % len(buttons)], users[n])
                for n in range(clicks)
            )
        )
        await fake.wait_for(lambda: len(clock.acked) == clicks, timeout=60, fail_on_errors=False)
        return clock.latencies_ms()
    finally:
        clock.close()


async def measure(clicks: int, rounds: int) -> None:
    sim = start_child_simulator(seconds_per_job=1.0, max_concurrent=1000, queue_limit=1000)
    fake = FakeDiscord()
    for n in range(clicks):
        fake.guild.members.append(Member(User(fake.clock.snowflake(), f"member{n:04d}")))
    await fake.start()
    try:
        settings = {"quota": UNLIMITED, "midjourney": {"poll_interval_seconds": 0.5}}
        async with bot_process(fake, sim.base_url, **settings):
            for n in range(rounds):
                grid = await finished_grid(fake, f"a field of lanterns, take {n + 1}")
                values = await burst(fake, grid, clicks)
                print(
                    f"ack_latency clicks={clicks} p50_ms={statistics.median(values):.1f} "
                    f"p99_ms={percentile(values, 99):.1f} max_ms={max(values):.1f}",
                    flush=True,
                )
    finally:
        await fake.stop()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Interaction-ack latency under a click burst.")
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="grids to click, one line each")
    args = parser.parse_args()
    quiet_logs()
    print(machine(), file=sys.stderr)
    asyncio.run(measure(args.clicks, args.rounds))


if __name__ == "__main__":
    main()
