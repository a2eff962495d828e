"""Crashes and restarts: kill -9 mid-job, restart, the job finishes and old buttons still work."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.midjourney.simulator import Simulator
from tests.e2e.harness import KEY
from tests.e2e.steps import JOB_SECONDS, click, finish, reply_to, wait_final, wait_job_message
from tests.fakes.discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, fake: FakeDiscord, sim: Simulator, db: Path | str) -> None:
    storage = f'url = "{db}"' if "://" in str(db) else f'path = "{db}"'
    path.write_text(
        f"""
[discord]
token = "{fake.token}"
api_base_url = "{fake.api_base_url}"
gateway_url = "{fake.gateway_url}"
guild_ids = [{fake.guild.id}]

[midjourney]
base_url = "{sim.base_url}"
path_prefix = "{sim.prefix}"
api_key = "{KEY}"
auth_style = "mj-api-secret"
poll_interval_seconds = 0.05

[storage]
{storage}

[jobs]
edit_interval_seconds = 0.0
""",
        encoding="utf-8",
    )


class BotProcess:
    """`python -m bot run` as a child process, its log drained so it never blocks."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    @classmethod
    async def start(cls, config: Path) -> BotProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._reader

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=15)
        await self._reader
        return code


async def test_kill_mid_job_then_restart(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path, e2e_database: str
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, fake_discord, sim, e2e_database)
    first = await BotProcess.start(config)
    try:
        # Connected, then its commands registered (synced after the first READY).
        await fake_discord.wait_for(
            lambda: (
                fake_discord.gateway.connected and fake_discord.commands.get(fake_discord.guild.id)
            ),
            timeout=30,
        )
        handle = await fake_discord.slash("imagine", {"prompt": "a comet over hills"})
        await handle.wait_response()
        message = await wait_job_message(fake_discord, "a comet over hills")
        sim.advance(5)
        await fake_discord.wait_for(
            lambda: "%" in fake_discord.messages[int(message["id"])]["content"]
        )
    finally:
        await first.kill()
    sim.advance(JOB_SECONDS)  # the job ends while the bot is down
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected, timeout=10)

    second = await BotProcess.start(config)
    try:
        final = await wait_final(fake_discord, int(message["id"]))  # resumed from SQLite
        assert sim.count("/submit/imagine") == 1  # never resubmitted
        await fake_discord.wait_for(lambda: fake_discord.gateway.connected, timeout=30)
        await click(fake_discord, final, "U3")  # a button of the old process still works
        child = await reply_to(fake_discord, int(message["id"]))
        await finish(fake_discord, sim, int(child["id"]))
        assert await second.terminate() == 0
    finally:
        if second.process.returncode is None:
            await second.kill()
    assert not any("Traceback" in line for line in second.lines), "\n".join(second.lines)
    # The new process knows nothing of the bucket the killed one was using: its first edit
    # through the same interaction token may meet that bucket full (discord.py waits, retries).
    limited = fake_discord.take_rate_limited()
    assert len(limited) <= 2
    assert all(hit.path.startswith("/webhooks/") and hit.scope == "user" for hit in limited)


async def test_interaction_token_expiry_during_a_long_job(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """A token that dies before the bot expects (here Discord's clock runs ahead of the bot's):
    one refused edit, then the bot token edits the message through the channel."""
    from tests.e2e.harness import make_settings, start_bot

    running = await start_bot(
        fake_discord, make_settings(fake_discord, sim, tmp_path / "db.sqlite3")
    )
    try:
        handle = await fake_discord.slash("imagine", {"prompt": "a slow glacier"})
        await handle.wait_response()
        message = await wait_job_message(fake_discord, "a slow glacier")
        await handle.wait_original(lambda m: "started" in m.get("content", ""))
        fake_discord.advance(16 * 60)  # the interaction token is now dead
        final = await finish(fake_discord, sim, int(message["id"]))
        assert final["attachments"]
        late = [
            r for r in fake_discord.requests if r.path.startswith("/webhooks/") and r.status >= 400
        ]
        assert len(late) == 1 and late[0].status == 401
        after = fake_discord.requests[fake_discord.requests.index(late[0]) + 1 :]
        assert not [r for r in after if r.path.startswith("/webhooks/")]
    finally:
        assert await running.stop() == 0


async def test_a_job_interrupted_during_its_submit_is_never_resent(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path, e2e_database: str
) -> None:
    """A job recorded as 'submitting' may have reached the proxy: at start-up it is marked
    unknown and refunded, never sent again."""
    from storage.db import Database
    from storage.jobs import JobRepository
    from tests.e2e.harness import make_settings, start_bot

    db = await Database.open(e2e_database)
    interrupted = await JobRepository(db).create_submitting(
        guild_id=fake_discord.guild.id,
        channel_id=fake_discord.channel.id,
        requester_id=fake_discord.user.id,
        kind="imagine",
        action="imagine",
        prompt="cut off mid-submit",
    )
    await db.close()

    settings = make_settings(
        fake_discord, sim, tmp_path / "unused.sqlite3", storage_url=e2e_database
    )
    running = await start_bot(fake_discord, settings)
    try:
        job = await running.services.job_repo.get(interrupted.id)
        assert job.state == "unknown" and job.failure == "mjbot:job.failure.interrupted"
        assert sim.count("/submit/imagine") == 0
        assert interrupted.task_id is None and not running.services.tracker.followed_task_ids
        # The member never saw a message for it: the bot posts one that says what happened.
        notice = await wait_job_message(fake_discord, "cut off mid-submit")
        assert "restarted while sending" in notice["content"] and not notice.get("components")
    finally:
        assert await running.stop() == 0


async def test_an_upload_interrupted_by_a_stop_happens_at_the_next_start(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    from storage.db import Database
    from storage.jobs import JobRepository
    from tests.e2e.harness import make_settings, start_bot

    db_path = tmp_path / "db.sqlite3"
    settings = make_settings(fake_discord, sim, db_path)
    running = await start_bot(fake_discord, settings)
    handle = await fake_discord.slash("imagine", {"prompt": "a night market"})
    await handle.wait_response()
    message = await wait_job_message(fake_discord, "a night market")
    assert await running.stop() == 0
    # The proxy finished it and the bot recorded that, but stopped before the upload.
    [task_id] = list(sim.tasks)
    sim.advance(JOB_SECONDS)
    db = await Database.open(db_path)
    jobs = JobRepository(db)
    job = await jobs.get_by_task_id(task_id)
    assert job is not None
    await jobs.complete(
        job.id, state="success", image_url=f"{sim.base_url}/sim/images/{task_id}.png"
    )
    await db.close()

    again = await start_bot(fake_discord, settings)
    try:
        final = await wait_final(fake_discord, int(message["id"]))
        assert final["attachments"]
    finally:
        assert await again.stop() == 0
