"""1,000 jobs in flight in one mjbot process, followed by its one batched poller.

mjbot runs as `python -m bot run` with the shipped defaults (poll every 3 s, 50 ids per batched
poll); this process plays Discord and types 1,000 /imagine commands; the simulator (a third
process) accepts them all and keeps them running (its clock is frozen, so no job finishes or
changes). After every job has its message, the bot process's RSS and CPU are read from /proc
over a tracking window: the steady cost of following 1,000 jobs. A first line measures the same
window with no job, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/in_flight.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import (
    UNLIMITED,
    bot_process,
    machine,
    process_cpu_seconds,
    process_rss_mb,
    quiet_logs,
    start_child_simulator,
)
from bot.midjourney.simulator import ManualClock
from tests.fakes.discord import FakeDiscord, Interaction

BATCH = 50  # commands typed at once
PROMPT = "a quiet street"


async def submit(fake: FakeDiscord, jobs: int) -> list[Interaction]:
    """Type the commands in batches; each batch is acknowledged before the next one."""
    handles: list[Interaction] = []
    for start in range(0, jobs, BATCH):
        batch = [
            await fake.slash("imagine", {"prompt": f"{PROMPT}, number {n}"})
            for n in range(start, min(jobs, start + BATCH))
        ]
        for handle in batch:
            await handle.wait_response(timeout=30)
        handles.extend(batch)
    return handles


def answered(handle: Interaction) -> bool:
    """The member was told the job started (the last message of a command's flow)."""
    return bool(handle.followups or (handle.original or {}).get("content"))


def job_messages(fake: FakeDiscord) -> int:
    return len(fake.find_messages(contains=PROMPT, ephemeral=False))


async def window(pid: int, seconds: float) -> tuple[float, float]:
    """(RSS MiB at the end, CPU % of one core) over `seconds` of wall time."""
    cpu, wall = process_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)  # the measured interval itself
    cpu, wall = process_cpu_seconds(pid) - cpu, time.monotonic() - wall
    return process_rss_mb(pid), 100 * cpu / wall


async def measure(jobs: int, seconds: float) -> None:
    sim = start_child_simulator(clock=ManualClock(), max_concurrent=jobs, queue_limit=jobs)
    fake = FakeDiscord()
    await fake.start()
    try:
        async with bot_process(fake, sim.base_url, quota=UNLIMITED) as bot:
            rss, cpu = await window(bot.pid, seconds)
            print(f"in_flight jobs=0 rss_mb={rss:.1f} cpu_pct={cpu:.1f}", flush=True)
            started = time.monotonic()
            handles = await submit(fake, jobs)
            await fake.wait_for(
                lambda: job_messages(fake) >= jobs and all(answered(h) for h in handles),
                timeout=120,
            )
            print(f"# {jobs} jobs started in {time.monotonic() - started:.1f} s", file=sys.stderr)
            requests = len(fake.requests)
            rss, cpu = await window(bot.pid, seconds)
            print(f"in_flight jobs={jobs} rss_mb={rss:.1f} cpu_pct={cpu:.1f}", flush=True)
            during = collections.Counter(
                f"{r.method} /{r.path.split('/')[1]}" for r in fake.requests[requests:]
            )
            print(f"# Discord requests during the window: {dict(during)}", file=sys.stderr)
    finally:
        await fake.stop()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS and CPU with many jobs in flight.")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0, help="tracking window")
    args = parser.parse_args()
    quiet_logs()
    print(machine(), file=sys.stderr)
    asyncio.run(measure(args.jobs, args.seconds))


if __name__ == "__main__":
    main()
