"""1,000 jobs in flight over 10 channels against a fake Discord that enforces its rate limits.

mjbot runs as `python -m bot run` with the shipped defaults (poll every 3 s, at most one edit per
job every 3 s, 40 bot-token requests per second); this process plays Discord (rate limits on,
as in tests/e2e) and the simulator runs in a third process with real time, each job taking
`--job-seconds`. 1,000 /imagine commands are typed over 10 channels, 50 per second (20 s for
all, so all are in flight together with 60-s jobs); progress
moves until every job has its final image on Discord. A bare discord.py bot (bench/bare_bot.py)
runs at the same time against a second fake: while the jobs run, 100 members click a finished
result of mjbot and 100 click the bare bot's button, at the same moment. Afterwards both bots
are started again, in turn, mjbot with a database of `--rows` jobs: start-up to connected and
idle RSS, and their ratio.

One line per figure on stdout; the machine on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import compileall
import itertools
import multiprocessing
import os
import signal
import sqlite3
import statistics
import sys
import time
from contextlib import closing
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

if __package__ in (None, ""):  # run as `python bench/rate_budget.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ack_latency import AckClock, percentile
from bench.loopback import (
    REPO,
    UNLIMITED,
    ChildSimulator,
    _serve,
    bot_process,
    machine,
    process_cpu_seconds,
    process_rss_mb,
    quiet_logs,
    start_child_simulator,
)
from bench.storage import fill
from storage.db import Database
from tests.e2e.harness import KEY
from tests.e2e.steps import components
from tests.fakes.discord import Channel, FakeDiscord, Member, User

BATCH = 50
PROMPT = "a quiet street"
CLICKS = 100


def _serve_ready_made(conn: Any, options: dict[str, Any]) -> None:
    """Child process: the simulator, every image one ready-made 300-KB PNG. The simulator draws
    each image on its own event loop (about 0.1 s each here): 1,000 finals in a minute would
    measure its drawing, not the bot."""
    import io
    import random

    from PIL import Image

    from bot.midjourney.simulator import server

    noise = random.Random(1).randbytes(320 * 320 * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (320, 320), noise).save(buffer, format="PNG", compress_level=1)
    png = buffer.getvalue()
    server.render_png = lambda task, preview_pct=None: png  # type: ignore[assignment]
    _serve(conn, options)


def start_fast_simulator(**options: Any) -> ChildSimulator:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_serve_ready_made, args=(child, options), daemon=True)
    process.start()
    child.close()
    if not parent.poll(30):
        process.kill()
        raise RuntimeError("the simulator process did not start")
    base_url = str(parent.recv())
    parent.close()
    return ChildSimulator(process, base_url)


def pct(values: list[float], p: float) -> float:
    return percentile(values, p) if values else float("nan")


class Timeline:
    """When each message was created and edited (wall time, as the fake stored it)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.events: dict[int, list[tuple[float, bool]]] = collections.defaultdict(list)
        store = fake.store
        create, edit = store.create, store.edit

        async def timed_create(*args: Any, **kwargs: Any) -> dict[str, Any]:
            message = await create(*args, **kwargs)
            self.events[int(message["id"])].append((time.time(), bool(message["attachments"])))
            return message

        async def timed_edit(*args: Any, **kwargs: Any) -> dict[str, Any]:
            message = await edit(*args, **kwargs)
            self.events[int(message["id"])].append((time.time(), bool(message["attachments"])))
            return message

        store.create = timed_create  # type: ignore[method-assign]
        store.edit = timed_edit  # type: ignore[method-assign]

    def final_at(self, message_id: int) -> float | None:
        return next((t for t, done in self.events[message_id] if done), None)

    def updates_until_final(self, message_id: int) -> list[float]:
        times = []
        for at, done in self.events[message_id]:
            times.append(at)
            if done:
                break
        return times


def job_messages(fake: FakeDiscord) -> dict[int, dict[str, Any]]:
    """Job message by prompt number."""
    found = {}
    for message in fake.find_messages(contains=PROMPT, ephemeral=False):
        content = message["content"]
        if content.startswith("↪"):
            continue  # a child of a clicked result
        at = content.find("number ")
        if at >= 0:
            digits = content[at + 7 :].split("*", 1)[0].split()[0].strip(",")
            if digits.isdigit():
                found[int(digits)] = message
    return found


async def submit(fake: FakeDiscord, jobs: int, channels: list[int]) -> dict[int, tuple[float, Any]]:
    sent: dict[int, tuple[float, Any]] = {}
    began = time.monotonic()
    for start in range(0, jobs, BATCH):
        # One batch of 50 per second at most: a busy server, not a flood of 1,000 at once.
        await asyncio.sleep(max(0.0, began + start / BATCH - time.monotonic()))
        batch = []
        for n in range(start, min(jobs, start + BATCH)):
            at = time.time()
            handle = await fake.slash(
                "imagine", {"prompt": f"{PROMPT}, number {n}"}, channel_id=channels[n % 10]
            )
            sent[n] = (at, handle)
            batch.append(handle)
        for handle in batch:
            await handle.wait_response(timeout=60)
    return sent


async def finish_times(sim_url: str, db: Path, message_ids: list[int]) -> dict[int, float]:
    """The proxy's finishTime (s) of the task behind each job message."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT m.message_id, j.task_id FROM messages m JOIN jobs j ON j.id = m.job_id"
        ).fetchall()
    task_of = {int(m): str(t) for m, t in rows if int(m) in set(message_ids) and t}
    finished: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=sim_url, headers={"mj-api-secret": KEY}) as http:
        ids = list(task_of.values())
        for start in range(0, len(ids), 100):
            reply = await http.post(
                "/mj/task/list-by-condition", json={"ids": ids[start : start + 100]}
            )
            for task in reply.json():
                if task.get("finishTime"):
                    finished[str(task["id"])] = task["finishTime"] / 1000
    return {m: finished[t] for m, t in task_of.items() if t in finished}


async def start_bare(fake: FakeDiscord) -> asyncio.subprocess.Process:
    env = {**os.environ, "MJBOT_DISCORD__TOKEN": fake.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bare_bot",
        fake.api_base_url,
        fake.gateway_url,
        cwd=REPO,
        env=env,
    )
    await fake.wait_for(lambda: fake.gateway.connected or process.returncode is not None, 60)
    return process


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 30)


async def click_burst(fake: FakeDiscord, message: dict[str, Any]) -> AckClock:
    buttons = [c["custom_id"] for c in components(message) if c.get("style") != 5]
    users = [m.user for m in fake.guild.members if m.user.username.startswith("member")]
    clock = AckClock(fake)
    await asyncio.gather(
        *(
            clock.click(int(message["id"]), buttons[n % len(buttons)], users[n])
            for n in range(CLICKS)
        )
    )
    return clock


async def until(predicate: Any, seconds: float) -> Any:
    """Poll `predicate` twice a second (checking 1,000 messages on every request would cost this
    process more than the bot's requests do)."""
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {seconds} s")
        await asyncio.sleep(0.5)
    return value


def new_fake() -> FakeDiscord:
    fake = FakeDiscord(rate_limits=True)
    for n in range(8):
        fake.guild.channels.append(Channel(fake.clock.snowflake(), f"mj-{n}", position=n + 2))
    for n in range(CLICKS):
        fake.guild.members.append(Member(User(fake.clock.snowflake(), f"member{n:04d}")))
    return fake


async def load(jobs: int, job_seconds: float) -> None:
    sim = start_fast_simulator(
        seconds_per_job=job_seconds, max_concurrent=jobs + 500, queue_limit=jobs + 500
    )
    fake, floor = new_fake(), new_fake()
    await fake.start()
    await floor.start()
    timeline = Timeline(fake)
    bare = await start_bare(floor)
    row = {
        "type": 1,
        "components": [{"type": 2, "style": 2, "label": "x", "custom_id": "bare:1"}],
    }
    bare_message = await floor.store.create(
        floor.channel.id, {"content": "floor", "components": [row]}, [], author=floor.bot_user
    )
    channels = [c.id for c in fake.guild.channels]
    try:
        with TemporaryDirectory() as tmp:
            db = Path(tmp) / "mjbot.sqlite3"
            async with bot_process(
                fake, sim.base_url, quota=UNLIMITED, storage={"path": str(db)}
            ) as bot:
                first = len(fake.requests)
                cpu_before = process_cpu_seconds(bot.pid)
                started = time.monotonic()
                sent = await submit(fake, jobs, channels)
                print(
                    f"# {jobs} commands typed in {time.monotonic() - started:.1f} s",
                    file=sys.stderr,
                )
                await until(lambda: len(job_messages(fake)) >= jobs, 300)
                # Clicks while the jobs run: on mjbot's first finished job, and on the bare bot.
                finished = await until(
                    lambda: next(
                        (m for m in job_messages(fake).values() if m["attachments"]), None
                    ),
                    job_seconds * 3,
                )
                ours, theirs = await asyncio.gather(
                    click_burst(fake, finished), click_burst(floor, bare_message)
                )
                await fake.wait_for(lambda: len(ours.acked) == CLICKS, 60, fail_on_errors=False)
                await floor.wait_for(lambda: len(theirs.acked) == CLICKS, 60)
                ours.close()
                theirs.close()
                await until(
                    lambda: all(m["attachments"] for m in job_messages(fake).values()),
                    job_seconds * 6 + 120,
                )
                print(
                    f"# all finished after {time.monotonic() - started:.1f} s, mjbot used"
                    f" {process_cpu_seconds(bot.pid) - cpu_before:.1f} s of CPU",
                    file=sys.stderr,
                )
                messages = job_messages(fake)
                proxy_done = await finish_times(
                    sim.base_url, db, [int(m["id"]) for m in messages.values()]
                )
                requests = collections.Counter(
                    f"{r.method} /{r.path.split('/')[1]}" for r in fake.requests[first:]
                )
                print(f"# Discord requests: {dict(requests)}", file=sys.stderr)
        report(fake, timeline, sent, messages, proxy_done, ours, theirs)
    finally:
        await stop_process(bare)
        await fake.stop()
        await floor.stop()
        sim.stop()


def report(
    fake: FakeDiscord,
    timeline: Timeline,
    sent: dict[int, tuple[float, Any]],
    messages: dict[int, dict[str, Any]],
    proxy_done: dict[int, float],
    ours: AckClock,
    theirs: AckClock,
) -> None:
    scopes = fake.rate_limits.by_scope
    print(f"rate_budget 429s global={scopes['global']} route={scopes['user']}")
    peak = max(fake.rate_limits.per_second.values())
    peak_global = max(fake.rate_limits.global_per_second.values())
    print(f"rate_budget peak_requests_per_s all={peak} global_bound={peak_global}")
    posted = [
        timeline.events[int(messages[n]["id"])][0][0] - at
        for n, (at, _) in sent.items()
        if n in messages
    ]
    print(
        f"rate_budget job_message_after_command_s p50={pct(posted, 50):.2f}"
        f" p95={pct(posted, 95):.2f} max={max(posted):.2f}"
    )
    delays = []
    for message in messages.values():
        mid = int(message["id"])
        final = timeline.final_at(mid)
        if final is not None and mid in proxy_done:
            delays.append(final - proxy_done[mid])
    print(
        f"rate_budget final_after_success_s n={len(delays)} p50={pct(delays, 50):.2f}"
        f" p95={pct(delays, 95):.2f} max={max(delays):.2f}"
    )
    longest, shortest = [], []
    for message in messages.values():
        times = timeline.updates_until_final(int(message["id"]))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if gaps:
            longest.append(max(gaps))
            if len(gaps) > 1:
                shortest.append(min(gaps[:-1]))  # between progress updates (not the final)
    print(
        f"rate_budget update_gap_s p95={pct(longest, 95):.2f} max={max(longest):.2f}"
        f" shortest={min(shortest) if shortest else float('nan'):.2f}"
    )
    a, b = ours.latencies_ms(), theirs.latencies_ms()
    print(
        f"rate_budget click_ack_ms clicks={len(a)} mjbot_p50={statistics.median(a):.1f}"
        f" mjbot_p99={pct(a, 99):.1f} bare_p50={statistics.median(b):.1f} bare_p99={pct(b, 99):.1f}"
    )


async def _connected_after(fake: FakeDiscord, began: float) -> float:
    """Seconds from `began` to the bot's IDENTIFY on `fake` (mjbot registers its commands
    after that, once READY: bot_process waits for both)."""
    await fake.wait_for(lambda: fake.gateway.connected, timeout=60)
    return time.perf_counter() - began


async def startup(rows: int, pairs: int, folder: Path) -> None:
    """Start-up to connected and idle RSS: mjbot (with `rows` jobs) and the bare bot, in turn."""
    # Bytecode as an installed mjbot has it (pip compiles at install time): with
    # PYTHONDONTWRITEBYTECODE set, every start would otherwise compile mjbot's ~90 modules
    # (about 0.1-0.2 s) while discord.py, installed by pip, loads compiled.
    for package in ("bot", "cogs", "storage", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)
    db = folder / "million.sqlite3"
    if not db.exists():
        await (await Database.open(db)).close()
        began = time.perf_counter()
        fill(db, rows)
        print(f"# {rows} jobs filled in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    sim = start_child_simulator()
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    commands: list[float] = []  # mjbot: process start to its commands registered
    try:
        for _ in range(pairs):
            fake = FakeDiscord(rate_limits=True)
            await fake.start()
            try:
                began = time.perf_counter()
                connected = asyncio.create_task(_connected_after(fake, began))
                async with bot_process(fake, sim.base_url, storage={"path": str(db)}) as bot:
                    commands.append(time.perf_counter() - began)
                    took = await connected
                    await asyncio.sleep(5)  # idle
                    ours.append((took, process_rss_mb(bot.pid)))
            finally:
                await fake.stop()
            fake = FakeDiscord(rate_limits=True)
            await fake.start()
            try:
                began = time.perf_counter()
                bare = await start_bare(fake)
                took = time.perf_counter() - began
                await asyncio.sleep(5)
                theirs.append((took, process_rss_mb(bare.pid)))
                await stop_process(bare)
            finally:
                await fake.stop()
    finally:
        sim.stop()
    ratios = [a[0] / b[0] for a, b in zip(ours, theirs, strict=True)]
    rss = [a[1] / b[1] for a, b in zip(ours, theirs, strict=True)]
    for n, (a, b, c) in enumerate(zip(ours, theirs, commands, strict=True), 1):
        print(
            f"# pair {n}: mjbot {a[0]:.2f} s (commands {c:.2f} s) {a[1]:.1f} MiB,"
            f" bare {b[0]:.2f} s {b[1]:.1f} MiB, ratios {a[0] / b[0]:.2f} {a[1] / b[1]:.2f}",
            file=sys.stderr,
        )
    med = statistics.median
    print(
        f"rate_budget startup_to_connected_s rows={rows} mjbot={med(a[0] for a in ours):.2f}"
        f" bare={med(b[0] for b in theirs):.2f} ratio={med(ratios):.2f}"
    )
    command_ratios = [c / b[0] for c, b in zip(commands, theirs, strict=True)]
    print(
        f"rate_budget startup_to_commands_s rows={rows} mjbot={med(commands):.2f}"
        f" ratio_to_bare_connected={med(command_ratios):.2f}"
    )
    print(
        f"rate_budget idle_rss_mb rows={rows} mjbot={med(a[1] for a in ours):.1f}"
        f" bare={med(b[1] for b in theirs):.1f} ratio={med(rss):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="1,000 jobs within Discord's rate limits.")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=60.0)
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs in the start-up database")
    parser.add_argument("--pairs", type=int, default=3, help="start-ups of each bot, in turn")
    parser.add_argument("--dir", type=Path, help="keep the start-up database in this folder")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    print(machine(), file=sys.stderr)
    if not args.skip_load:
        asyncio.run(load(args.jobs, args.job_seconds))
    if not args.skip_startup:
        if args.dir:
            args.dir.mkdir(parents=True, exist_ok=True)
            asyncio.run(startup(args.rows, args.pairs, args.dir))
        else:
            with TemporaryDirectory() as tmp:
                asyncio.run(startup(args.rows, args.pairs, Path(tmp)))


if __name__ == "__main__":
    main()
