"""Faults around the tracker end to end: one broken task, a database locked at a job's end."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

import storage.sqlite
from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import JOB_SECONDS, wait_final, wait_job_message
from tests.fakes.discord import FakeDiscord


def task_of(sim: Simulator, prompt: str) -> str:
    [task_id] = [t.id for t in sim.tasks.values() if t.prompt == prompt]
    return task_id


async def start_job(fake: FakeDiscord, prompt: str, user: str = "alice") -> dict[str, Any]:
    handle = await fake.slash("imagine", {"prompt": prompt}, user=fake.users[user])
    await handle.wait_response()
    return await wait_job_message(fake, prompt)


async def test_another_members_job_finishes_while_one_task_is_broken(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    running = await mjbot()
    broken = await start_job(fake_discord, "a broken lighthouse", "alice")
    healthy = await start_job(fake_discord, "a calm harbour", "bob")
    lost = task_of(sim, "a broken lighthouse")
    # The proxy lost alice's task: the batch leaves it out and its own fetch fails every time.
    sim.tasks.pop(lost)
    sim.inject_fault(f"/task/{lost}/fetch", "http500", times=10_000)

    sim.advance(JOB_SECONDS)
    final = await wait_final(fake_discord, int(healthy["id"]))
    assert final["attachments"]  # bob's job finished, untouched by alice's broken task
    shown = fake_discord.messages[int(broken["id"])]
    assert not shown.get("attachments")
    assert "not answering" not in shown["content"]  # the service answered the batch
    assert running.services.tracker.followed_task_ids == [lost]  # still followed, alone


async def test_a_job_finishes_after_the_database_was_locked_for_10_s_at_its_end(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each write gives up after 1 s (instead of 5), so the 10 s lock outlasts several tries.
    monkeypatch.setattr(storage.sqlite, "BUSY_TIMEOUT_MS", 1000)
    running = await mjbot()
    message = await start_job(fake_discord, "a locked vault")
    # Half way: an edit shows progress, so the message is recorded before the lock is taken.
    sim.advance(JOB_SECONDS / 2)
    await fake_discord.wait_for(lambda: "%" in fake_discord.messages[int(message["id"])]["content"])
    loop = asyncio.get_running_loop()
    blocker = sqlite3.connect(running.settings.storage.path, isolation_level=None, timeout=10)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # a backup or a VACUUM holds the write lock
        locked_at = loop.time()
        sim.advance(JOB_SECONDS)  # the job ends at the proxy while the database is locked
        notice = await fake_discord.wait_for(
            lambda: "cannot save this job" in fake_discord.messages[int(message["id"])]["content"]
        )
        assert notice
        # Another member starting a job meanwhile is told plainly, not the generic apology.
        handle = await fake_discord.slash(
            "imagine", {"prompt": "a second vault"}, user=fake_discord.users["bob"]
        )
        await handle.wait_response()
        told = await fake_discord.wait_for(
            lambda: next((m for m in handle.followups if "database" in m["content"]), None)
        )
        assert "cannot save anything right now" in told["content"]
        assert "went wrong" not in told["content"]
        assert not fake_discord.messages[int(message["id"])].get("attachments")
        # Hold the lock for 10 s in all: a deliberate fault duration, not a wait for an event.
        await asyncio.sleep(max(0.0, locked_at + 10.0 - loop.time()))
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    final = await wait_final(fake_discord, int(message["id"]))
    assert final["attachments"] and "cannot save" not in final["content"]
    assert not running.services.tracker.followed_task_ids
