"""Storage benchmark: hot lookups and start-up time on a database of a million jobs and messages."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/storage.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import Database, JobRepository, UsageRepository

DAY = 86_400.0
NOW = 1_767_225_600.0 + 12 * 3600  # noon UTC, so "today" has history before it
TODAY = NOW - 12 * 3600
GUILDS = 50
USERS = 20_000
UNFINISHED = 100  # jobs still running when the bot (re)starts: a busy server
TARGET_GUILD, TARGET_USER = 7, 4242  # the member whose usage today is looked up
CHUNK = 100_000
FIRST_MESSAGE_ID = 1_300_000_000_000_000_000  # snowflake-sized, increasing like real ones

BUTTONS = json.dumps(
    [
        {"customId": f"MJ::JOB::{kind}::{n}::0f8e6d4c-3b2a-4e1f-9a8b-7c6d5e4f3a2b", "label": label}
        for kind, n, label in [
            ("upsample", 1, "U1"),
            ("upsample", 2, "U2"),
            ("upsample", 3, "U3"),
            ("upsample", 4, "U4"),
            ("reroll", 0, ""),
            ("variation", 1, "V1"),
            ("variation", 2, "V2"),
            ("variation", 3, "V3"),
            ("variation", 4, "V4"),
        ]
    ]
)


def _job_rows(start: int, stop: int, rows: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for i in range(start, stop):
        job_id = i + 1
        created = NOW - 90 * DAY * (1 - i / rows)  # spread over 90 days, oldest first
        running = i >= rows - UNFINISHED
        yield (
            job_id,
            f"{job_id:016d}",
            rng.randrange(1, GUILDS + 1),
            rng.randrange(10**17, 10**17 + 1000),
            rng.randrange(1, USERS + 1),
            "imagine",
            "imagine",
            f"a red fox in the snow, golden hour, photo number {job_id} --ar 16:9 --v 6.1",
            "in_progress" if running else "success",
            50 if running else 100,
            None if running else f"https://cdn.example/attachments/{job_id}.png",
            "[]" if running else BUTTONS,
            1.0,
            created,
            created + 2,
            None if running else created + 60,
            created + 60,
        )


def fill(path: Path, rows: int, seed: int = 1) -> None:
    """Insert `rows` jobs, messages and usage rows in big transactions (plain sqlite3, fast)."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a bench fill, not the bot's settings
        for start in range(0, rows, CHUNK):
            stop = min(rows, start + CHUNK)
            jobs = list(_job_rows(start, stop, rows, rng))
            conn.execute("BEGIN")
            conn.executemany(
                """INSERT INTO jobs (id, task_id, guild_id, channel_id, requester_id, kind, action,
                       prompt, state, progress, image_url, buttons_json, units, charged_at,
                       created_at, finished_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                jobs,
            )
            conn.executemany(
                """INSERT INTO messages (message_id, job_id, channel_id, guild_id, created_at)
                   VALUES (?, ?, ?, ?, ?)""",
                ((FIRST_MESSAGE_ID + j[0] * 4096, j[0], j[3], j[2], j[13]) for j in jobs),
            )
            conn.executemany(
                """INSERT INTO usage (guild_id, user_id, job_id, action, units, created_at)
                   VALUES (?, ?, ?, 'imagine', 1.0, ?)""",
                ((j[2], j[4], j[0], j[13]) for j in jobs),
            )
            conn.execute("COMMIT")
        # The member looked up has been busy today, and yesterday.
        conn.executemany(
            """INSERT INTO usage (guild_id, user_id, job_id, action, units, created_at)
               VALUES (?, ?, NULL, 'imagine', 1.0, ?)""",
            [(TARGET_GUILD, TARGET_USER, TODAY - DAY + n * 1800) for n in range(72)],
        )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def measure(samples: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """p50 and p99 in milliseconds, after a short warm-up."""
    for _ in range(min(200, samples)):
        await call()
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def run(rows: int, samples: int, folder: Path) -> None:
    path = folder / "bench.sqlite3"
    path.unlink(missing_ok=True)
    await (await Database.open(path)).close()  # the schema, through the real migrations
    started = time.perf_counter()
    fill(path, rows)
    fill_s = time.perf_counter() - started
    size_mb = path.stat().st_size / 2**20
    print(f"# rows={rows} jobs+messages+usage, fill_s={fill_s:.1f}, size_mb={size_mb:.0f}")

    started = time.perf_counter()
    db = await Database.open(path, clock=lambda: NOW)
    startup_s = time.perf_counter() - started
    try:
        jobs, usage = JobRepository(db), UsageRepository(db)
        rng = random.Random(2)

        async def job_for_message() -> None:
            message_id = FIRST_MESSAGE_ID + rng.randrange(1, rows + 1) * 4096
            assert await jobs.job_for_message(message_id) is not None

        async def unfinished() -> None:
            assert len(await jobs.unfinished()) == UNFINISHED

        async def usage_today() -> None:
            assert await usage.usage_since(TARGET_GUILD, TARGET_USER, TODAY) >= 24

        print(f"startup s={startup_s:.3f}")
        for name, call in (
            ("job_for_message", job_for_message),
            ("unfinished_jobs", unfinished),
            ("usage_today", usage_today),
        ):
            p50, p99 = await measure(samples, call)
            print(f"{name} p50_ms={p50:.3f} p99_ms={p99:.3f}", flush=True)
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs (and messages) to create")
    parser.add_argument("--samples", type=int, default=5000, help="timed calls per lookup")
    parser.add_argument("--dir", type=Path, help="keep the database in this folder")
    args = parser.parse_args(argv)
    if args.rows <= UNFINISHED:
        parser.error(f"--rows must be above {UNFINISHED}")
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args.rows, args.samples, args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="mjbot-bench-") as folder:
        asyncio.run(run(args.rows, args.samples, Path(folder)))


if __name__ == "__main__":
    main()
