"""Requests per job: 1, 10 and 50 concurrent /imagine jobs run to completion.

Time is compressed 30x on both sides so a job keeps its real proportions: the simulated proxy
takes 60 s per job, the bot polls every 3 s and edits a message at most every 3 s (0.1 s of
wall time each here). `proxy` counts every request the simulator received (submits, batched
polls, image downloads); `discord` counts every request the fake Discord received from the bot
after it was ready (callbacks, followups, job messages and their edits, uploads).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/requests_per_job.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import UNLIMITED, ScaledClock, machine, members, quiet_logs, rig
from bot.midjourney.simulator import Simulator
from tests.e2e.harness import KEY
from tests.e2e.steps import wait_job_message
from tests.fakes.discord import FakeDiscord

SPEED = 30.0
JOB_SECONDS = 60.0
POLL_SECONDS = 3.0
EDIT_SECONDS = 3.0


async def run_jobs(fake: FakeDiscord, concurrency: int) -> None:
    users = members(fake)

    async def one(n: int) -> None:
        prompt = f"a lantern festival, variant {n}"
        handle = await fake.slash("imagine", {"prompt": prompt}, user=users[n])
        await handle.wait_response(timeout=10)
        posted = await wait_job_message(fake, prompt)
        message_id = int(posted["id"])
        await fake.wait_for(lambda: fake.messages[message_id].get("attachments"), timeout=120)

    await asyncio.gather(*(one(n) for n in range(concurrency)))


async def measure(concurrency: int) -> None:
    sim = Simulator(
        "plus",
        api_key=KEY,
        clock=ScaledClock(SPEED),
        seconds_per_job=JOB_SECONDS,
        max_concurrent=concurrency,
    )
    await sim.start()
    try:
        async with rig(
            sim,
            members=concurrency,
            quota=UNLIMITED,
            midjourney={"poll_interval_seconds": POLL_SECONDS / SPEED},
            jobs={"edit_interval_seconds": EDIT_SECONDS / SPEED},
        ) as bot:
            fake = bot.fake
            proxy_before, discord_before = len(sim.requests), len(fake.requests)
            await run_jobs(fake, concurrency)
            proxy = (len(sim.requests) - proxy_before) / concurrency
            discord = (len(fake.requests) - discord_before) / concurrency
            line = f"requests_per_job concurrency={concurrency} proxy={proxy:.1f}"
            print(f"{line} discord={discord:.1f}", flush=True)
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Proxy and Discord requests per job.")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 10, 50])
    args = parser.parse_args()
    quiet_logs()
    print(machine(), file=sys.stderr)
    for concurrency in args.concurrency:
        asyncio.run(measure(concurrency))


if __name__ == "__main__":
    main()
