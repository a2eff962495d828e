"""Job messages ride on their own interactions, then on the channel, within Discord's limits."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import make_settings, start_bot
from tests.e2e.steps import (
    EPHEMERAL,
    JOB_SECONDS,
    click,
    finish,
    imagine_grid,
    parent_of,
    reply_to,
    wait_final,
    wait_job_message,
)
from tests.fakes.discord import FakeDiscord


def requests_for(fake: FakeDiscord, message_id: int) -> list[tuple[str, str]]:
    """(method, route kind) of every request that created or edited `message_id`."""
    found = []
    for r in fake.requests:
        if r.path.endswith(f"/messages/{message_id}"):
            found.append((r.method, "webhook" if r.path.startswith("/webhooks/") else "channel"))
    return found


def token_of(db: Path, message_id: int) -> tuple[Any, ...]:
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute(
            "SELECT job_id, interaction_token, token_expires_at FROM messages WHERE message_id = ?",
            (message_id,),
        ).fetchone()
    assert row is not None, "the job message is not mapped to its job"
    return tuple(row)


async def test_a_job_message_is_a_followup_of_its_command_and_edited_through_its_token(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, tmp_path: Path
) -> None:
    await mjbot()
    handle = await fake_discord.slash("imagine", {"prompt": "a quiet harbour"})
    message = await wait_job_message(fake_discord, "a quiet harbour")
    # Public, posted through the interaction's webhook (not the channel route)...
    assert message["webhook_id"] == str(fake_discord.application_id)
    assert not message["flags"] & EPHEMERAL
    posts = [r for r in fake_discord.requests if r.method == "POST"]
    assert not [r for r in posts if r.path.startswith("/channels/")]
    # ...while the member's own deferred answer stays private and links to it.
    original = await handle.wait_original(lambda m: "started" in m.get("content", ""))
    assert handle.ephemeral and message["id"] in original["content"]

    sim.advance(JOB_SECONDS / 2)
    await fake_discord.wait_for(lambda: "%" in fake_discord.messages[int(message["id"])]["content"])
    final = await finish(fake_discord, sim, int(message["id"]))
    assert final["attachments"]
    edits = requests_for(fake_discord, int(message["id"]))
    assert edits and set(edits) == {("PATCH", "webhook")}
    job_id, token, expires = token_of(tmp_path / "mjbot.sqlite3", int(message["id"]))
    assert token == handle.token and expires > fake_discord.clock.now() + 14 * 60

    # A click's child job is a followup of the click (it cannot be a reply): it links to the
    # message it comes from, and its buttons still find its job in SQLite.
    clicked = await click(fake_discord, final, "U2")
    child = await reply_to(fake_discord, int(final["id"]))
    assert child["webhook_id"] and parent_of(child) == int(final["id"])
    done = await finish(fake_discord, sim, int(child["id"]))
    assert token_of(tmp_path / "mjbot.sqlite3", int(child["id"]))[1] == clicked.token
    assert set(requests_for(fake_discord, int(done["id"]))) == {("PATCH", "webhook")}
    assert job_id != token_of(tmp_path / "mjbot.sqlite3", int(child["id"]))[0]


async def test_after_fifteen_minutes_the_bot_token_edits_through_the_channel(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """The bot knows when a token dies: it moves to the channel route, never sends a dead one."""
    db = tmp_path / "db.sqlite3"
    settings = make_settings(fake_discord, sim, db, midjourney={"job_timeout_minutes": 60})
    running = await start_bot(fake_discord, settings, clock=fake_discord.clock)
    try:
        handle = await fake_discord.slash("imagine", {"prompt": "a slow glacier"})
        message = await wait_job_message(fake_discord, "a slow glacier")
        await handle.wait_original(lambda m: "started" in m.get("content", ""))
        fake_discord.advance(15 * 60)  # the token has a minute left: no longer used
        final = await finish(fake_discord, sim, int(message["id"]))
        assert final["attachments"]
        late = [r for r in fake_discord.requests if r.status is not None and r.status >= 400]
        assert not late
        assert requests_for(fake_discord, int(message["id"]))[-1] == ("PATCH", "channel")
        # The result's buttons still work: the click is a new interaction with its own token.
        await click(fake_discord, final, "U1")
        child = await reply_to(fake_discord, int(final["id"]))
        await wait_final(
            fake_discord, int((await finish(fake_discord, sim, int(child["id"])))["id"])
        )
    finally:
        assert await running.stop() == 0


async def test_a_token_refused_early_falls_back_to_the_channel(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a lighthouse at dusk")
    fake_discord.inject_error("PATCH", r"^/webhooks/", status=401, times=1)
    await click(fake_discord, grid, "U1")  # the grid shows U1 as used: one edit of the grid
    await fake_discord.wait_for(lambda: fake_discord.injected_errors[-1].times == 0)
    await fake_discord.wait_for(
        lambda: ("PATCH", "channel") in requests_for(fake_discord, int(grid["id"]))
    )


async def test_an_edit_reads_the_database_once(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    running = await mjbot()
    services = running.services
    handle = await fake_discord.slash("imagine", {"prompt": "a red kite"})
    await handle.wait_response()
    posted = await wait_job_message(fake_discord, "a red kite")

    reads: list[str] = []
    db = services.db
    originals = {"fetch_all": db.fetch_all}  # every read goes through it

    def counting(name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None and task.get_name().startswith("mjbot-edit-"):
                reads.append(str(args[0]))
            return await originals[name](*args, **kwargs)

        return call

    for name in originals:
        setattr(db, name, counting(name))
    try:
        sim.advance(JOB_SECONDS / 2)  # progress moves: the tracker tells the presenter
        before = len(requests_for(fake_discord, int(posted["id"])))
        # An edit counted from its start: under load, one that had read before the counter was
        # installed may be the next to reach Discord, so wait for a counted read and a new edit.
        await fake_discord.wait_for(
            lambda: bool(reads) and len(requests_for(fake_discord, int(posted["id"]))) > before
        )
    finally:
        for name, original in originals.items():
            setattr(db, name, original)
    # Each edit read one row: the job, its message, its parent's message and its used buttons
    # (it was the job, then its messages, then its used buttons: 3-4 reads per edit).
    assert reads and all("json_group_array" in sql for sql in reads)
