"""The bot's life on the wire: connect and sync, answer, survive a gateway drop, stop cleanly, and
never log a secret."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import discord
import pytest

from bot import gc_pause
from bot.logs import RedactingFilter
from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY, make_settings, start_bot
from tests.e2e.steps import finish, wait_job_message
from tests.fakes.discord import FakeDiscord, heartbeat_threads

USER_COMMANDS = {"imagine"}


def command_syncs(fake: FakeDiscord) -> list[tuple[str, list[str]]]:
    return [
        (r.path, sorted(c["name"] for c in r.json or []))
        for r in fake.requests
        if r.method == "PUT" and r.path.endswith("/commands")
    ]


async def test_connects_and_syncs_its_commands_to_the_configured_guilds(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    running = await mjbot()
    assert fake_discord.gateway.identify_count == 1 and fake_discord.gateway.connected
    guild_path = f"/applications/{fake_discord.application_id}/guilds/{fake_discord.guild.id}"
    syncs = command_syncs(fake_discord)
    assert [path for path, _ in syncs] == [guild_path + "/commands"]  # nothing global
    assert USER_COMMANDS <= set(syncs[0][1])
    assert running.bot.synced
    assert {c["name"] for c in fake_discord.commands[fake_discord.guild.id]} == set(syncs[0][1])
    assert fake_discord.commands.get(None, []) == []


async def test_registers_its_commands_once_connected(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    """The sync waits for the first READY: nothing of it stands between start and gateway."""
    identified_by_sync: list[int] = []

    def sync_seen() -> bool:
        if command_syncs(fake_discord) and not identified_by_sync:
            identified_by_sync.append(fake_discord.gateway.identify_count)
        return bool(identified_by_sync)

    waiting = asyncio.create_task(fake_discord.wait_for(sync_seen, timeout=10))
    await mjbot()
    await waiting
    assert identified_by_sync == [1]


async def test_a_server_that_refuses_the_sync_costs_only_its_own_commands(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One of discord.guild_ids removed the bot (403, Missing Access): the bot still connects,
    the other server gets its commands and answers them, and the log says which server and why.
    (It used to stop the bot at start-up with "Discord could not be reached".)"""
    gone = 555_000_000_000_000_001
    settings = make_settings(fake_discord, sim, tmp_path / "mjbot.sqlite3")
    settings = settings.model_copy(
        update={
            "discord": settings.discord.model_copy(
                update={"guild_ids": [gone, fake_discord.guild.id]}
            )
        }
    )
    # The fake answers as Discord does for a server the bot is not in: 403, 50001 Missing Access.
    caplog.set_level(logging.INFO, logger="bot.app")
    running = await start_bot(fake_discord, settings, wait_synced=False)
    try:
        await fake_discord.wait_for(lambda: bool(fake_discord.commands.get(fake_discord.guild.id)))
        handle = await fake_discord.slash("imagine", {"prompt": "still here"})
        assert (await handle.wait_response())["type"] == 5
        await wait_job_message(fake_discord, "still here")
        await fake_discord.wait_for(
            lambda: any("could not register" in r.getMessage() for r in caplog.records)
        )
        [said] = [r for r in caplog.records if "could not register" in r.getMessage()]
        assert said.levelno == logging.ERROR
        assert f"to guild {gone}: 403" in said.getMessage()
        assert "applications.commands" in said.getMessage()
        assert not running.bot.synced and not running.task.done()
    finally:
        assert await running.stop() == 0


async def test_answers_a_slash_command_at_once(fake_discord: FakeDiscord, mjbot: StartBot) -> None:
    await mjbot()
    handle = await fake_discord.slash("imagine", {"prompt": "a paper boat on a pond"})
    response = await handle.wait_response()
    assert response["type"] == 5 and handle.ephemeral
    await wait_job_message(fake_discord, "a paper boat on a pond")


async def test_survives_a_gateway_drop_by_resuming(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    gateway = fake_discord.gateway
    await fake_discord.drop_gateway()
    await fake_discord.wait_for(lambda: gateway.resume_count == 1 and gateway.connected)
    assert gateway.identify_count == 1  # resumed, not a new session

    handle = await fake_discord.slash("imagine", {"prompt": "after the storm"})
    assert (await handle.wait_response())["type"] == 5
    message = await wait_job_message(fake_discord, "after the storm")
    final = await finish(fake_discord, sim, int(message["id"]))
    assert final["attachments"]


async def test_stops_without_leaving_anything_open(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    running = await mjbot()
    handle = await fake_discord.slash("imagine", {"prompt": "a quiet harbour"})
    await handle.wait_response()
    await wait_job_message(fake_discord, "a quiet harbour")
    services = running.services

    assert await running.stop() == 0
    assert running.bot.is_closed()
    assert services.api._http.is_closed and services.downloads.is_closed
    assert services.tracker._task is None
    with pytest.raises(Exception, match="closed"):
        await services.job_repo.get(1)
    assert not heartbeat_threads()
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected)
    # The fixture then fails the test on any asyncio task left running.


async def test_stopping_lets_a_command_being_handled_finish(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    running = await mjbot()
    sim.inject_fault("submit/imagine", "timeout")  # the submit hangs, then answers 504
    handle = await fake_discord.slash("imagine", {"prompt": "caught mid-flight"})
    await handle.wait_response()
    await fake_discord.wait_for(lambda: sim.count("submit/imagine") == 1)

    running.stop_event.set()  # SIGTERM while the command waits for the proxy
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected)
    sim.release_hangs()
    assert await running.stop() == 0

    # The handler finished with the database and Discord still open: the member was told, and
    # the job is settled (not left "submitting").
    answer = handle.original
    assert answer is not None and "caught mid-flight" not in answer.get("content", "")
    assert answer.get("content")
    with closing(sqlite3.connect(running.settings.storage.path)) as db:
        states = db.execute("SELECT state FROM jobs").fetchall()
    assert states == [("unknown",)]


# ---- secrets never reach the logs ---------------------------------------------------------------


@pytest.fixture
def all_logs(fake_discord: FakeDiscord) -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted through the redacting filter exactly as
    `bot.logs.configure_logging` installs it (on the handler)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter([fake_discord.token, KEY]))
    root = logging.getLogger()
    noisy = [logging.getLogger(name) for name in ("discord", "httpx", "httpcore", "aiosqlite")]
    saved = (root.level, [lg.level for lg in noisy])
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for lg in noisy:  # stricter than production, which keeps these at INFO or above
        lg.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for lg, level in zip(noisy, saved[1], strict=True):
            lg.setLevel(level)


async def test_neither_the_token_nor_the_api_key_reaches_the_logs(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, all_logs: io.StringIO
) -> None:
    await mjbot()
    # A whole job: submit, polls, progress edits, download and upload of the image.
    handle = await fake_discord.slash("imagine", {"prompt": "a secretive owl"})
    await handle.wait_response()
    message = await wait_job_message(fake_discord, "a secretive owl")
    await finish(fake_discord, sim, int(message["id"]))

    # The proxy refuses the key: the error path logs the failed request.
    sim.inject_reply("submit/imagine", {"error": f"bad key {KEY}"}, status=401)
    refused = await fake_discord.slash("imagine", {"prompt": "refused owl"})
    await refused.wait_original(lambda m: m.get("content"))  # told why it did not start
    # A poll gets garbage: the tracker logs a warning and backs off.
    sim.inject_fault("list-by-condition", "garbage")
    again = await fake_discord.slash("imagine", {"prompt": "a patient owl"})
    await again.wait_response()
    await wait_job_message(fake_discord, "a patient owl")

    # A record that quotes both secrets outright, as a careless log line or a traceback would.
    try:
        raise discord.LoginFailure(f"token {fake_discord.token} / key {KEY} refused")
    except discord.LoginFailure:
        logging.getLogger("bot.test").exception("Authorization: Bot %s", fake_discord.token)

    text = all_logs.getvalue()
    assert "POST submit/imagine" in text and "list-by-condition" in text  # the logs did flow
    assert "[redacted]" in text
    assert fake_discord.token not in text
    assert KEY not in text
    assert KEY.removeprefix("sk-") not in text


async def test_collects_garbage_again_once_set_up(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """`mjbot run` starts with the collector paused (bot/gc_pause.py); run_bot turns it back
    on once logged in, with the start-up's objects frozen, before connecting."""
    gc_pause.pause()
    try:
        running = await start_bot(
            fake_discord, make_settings(fake_discord, sim, tmp_path / "db.sqlite3")
        )
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert await running.stop() == 0
    finally:
        gc_pause.resume()
        gc.unfreeze()
        gc.enable()
