"""One bot, two servers, two proxies: each server's jobs, polls, downloads and refusals stay with
its own proxy (/mjadmin api), and its key is never seen in clear."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.midjourney.probe import PROBE_TASK_ID
from bot.midjourney.simulator import ManualClock, Simulator
from bot.midjourney.simulator.server import RecordedRequest
from tests.e2e.harness import RunningBot, make_settings, start_bot
from tests.e2e.steps import (
    EPHEMERAL,
    JOB_SECONDS,
    click,
    is_public_bot_message,
    labels,
    parent_of,
    wait_final,
    wait_job_message,
)
from tests.e2e.test_admin import admin, answer
from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, Interaction
from tests.fakes.discord.models import Channel, Guild, Member, Role, User

KEY_B = "sk-guild-b-own-key-7F3q"
SECRET = Fernet.generate_key().decode()


def second_guild(fake: FakeDiscord) -> Guild:
    """'Second Server': #general-b and #logs-b; carol (member) and mod2 (Manage Server)."""
    new = fake.clock.snowflake
    moderators = Role(new(), "Mods B", MANAGE_GUILD | (1 << 13), position=1)
    carol, mod2 = User(new(), "carol"), User(new(), "mod2")
    guild = Guild(
        new(),
        "Second Server",
        channels=[Channel(new(), "general-b"), Channel(new(), "logs-b", position=1)],
        roles=[moderators],
        members=[Member(carol), Member(mod2, [moderators.id])],
        owner_id=mod2.id,
    )
    bot_role = Role(new(), "mjbot", (1 << 41) - 1, position=2)
    guild.roles.append(bot_role)
    guild.members.append(Member(fake.bot_user, [bot_role.id]))
    fake.guilds.append(guild)
    return guild


@pytest.fixture
async def sim_b() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        "new-api", api_key=KEY_B, prefix="/v1/mj", clock=ManualClock(), seconds_per_job=10.0
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


async def start(
    fake: FakeDiscord,
    sim: Simulator,
    tmp_path: Path,
    guild: Guild | None,
    midjourney: dict[str, Any] | None = None,
    **security: Any,
) -> RunningBot:
    settings = make_settings(
        fake,
        sim,
        tmp_path / "mjbot.sqlite3",
        quota={"prices": {"imagine": 0.05}},
        midjourney=midjourney,
    )
    from bot.config import SecuritySettings

    ids = [fake.guild.id] + ([guild.id] if guild else [])
    settings = settings.model_copy(
        update={
            "discord": settings.discord.model_copy(update={"guild_ids": ids}),
            "security": SecuritySettings(**security),
        }
    )
    return await start_bot(fake, settings)


async def connect(fake: FakeDiscord, guild: Guild, values: dict[str, str]) -> str:
    """`/mjadmin api set` in `guild` as mod2: the dialog, then the bot's private answer."""
    mod2 = next(m.user for m in guild.members if m.user.username == "mod2")
    handle = await fake.slash(("mjadmin", "api", "set"), user=mod2, guild_id=guild.id)
    await handle.wait_response()
    assert handle.response_type == 9, handle.response
    submitted = await fake.submit_modal(handle, values)
    return str((await answer(submitted))["content"])


async def imagine_in(fake: FakeDiscord, guild: Guild, user: str, prompt: str) -> Interaction:
    who = next(m.user for m in guild.members if m.user.username == user)
    handle = await fake.slash("imagine", {"prompt": prompt}, user=who, guild_id=guild.id)
    await handle.wait_response()
    return handle


def submitted_prompts(sim: Simulator) -> list[str]:
    return [str(r.json.get("prompt")) for r in sim.requests if r.path.endswith("/submit/imagine")]


def polled_ids(sim: Simulator) -> set[str]:
    ids: set[str] = set()
    for r in sim.requests:
        if r.path.endswith("/task/list-by-condition"):
            ids.update(r.json.get("ids", []))
        elif r.path.endswith("/fetch"):
            ids.add(r.path.split("/")[-2])
    return ids - {PROBE_TASK_ID}  # /mjadmin api set's probe


def downloads(sim: Simulator) -> list[RecordedRequest]:
    return [r for r in sim.requests if "/sim/images/" in r.path or "/image/" in r.path]


async def child_of(fake: FakeDiscord, parent: dict[str, Any]) -> dict[str, Any]:
    """The job message of a click on `parent` (in its channel: audit lines link parents too)."""
    return await fake.wait_message(
        lambda m: (
            is_public_bot_message(fake, m)
            and parent_of(m) == int(parent["id"])
            and m["channel_id"] == parent["channel_id"]
        )
    )


def wait_audit(fake: FakeDiscord, channel_id: int, text: str) -> Any:
    return fake.wait_for(
        lambda: next((m for m in fake.channel_messages(channel_id) if text in m["content"]), None)
    )


async def test_each_server_uses_only_its_own_proxy_and_its_key_stays_secret(
    fake_discord: FakeDiscord,
    sim: Simulator,
    sim_b: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    guild_b = second_guild(fake_discord)
    general_b, logs_b = guild_b.channels
    running = await start(
        fake_discord, sim, tmp_path, guild_b, secret_key=SECRET, allow_private_proxies=True
    )
    try:
        mod2 = next(m.user for m in guild_b.members if m.user.username == "mod2")
        await admin(
            fake_discord, "auditlog", {"channel": logs_b.id}, user=mod2, guild_id=guild_b.id
        )
        form = {
            "api_base_url": sim_b.base_url,
            "api_path_prefix": "/v1/mj",
            "api_api_key": "sk-a-wrong-key-0000",
            "api_auth_style": "bearer",
            "api_backend": "new-api",
        }
        # A wrong key: told in the sentences `mjbot check` prints, and nothing is saved.
        refused = await connect(fake_discord, guild_b, form)
        assert "The API key is refused" in refused and "Nothing was saved" in refused
        saved = await connect(fake_discord, guild_b, {**form, "api_api_key": KEY_B})
        assert "answers and accepts the key" in saved and "Saved" in saved
        assert sim_b.submits == 0  # probed like `mjbot check`: no submit
        audit = await wait_audit(fake_discord, logs_b.id, "own image service connected")
        assert sim_b.base_url in audit["content"] and "new-api" in audit["content"]

        shown = await admin(fake_discord, "api show", user=mod2, guild_id=guild_b.id)
        assert sim_b.base_url in shown["content"] and f"`{KEY_B[-4:]}`" in shown["content"]
        tested = await admin(fake_discord, "api test", user=mod2, guild_id=guild_b.id)
        assert "answers and accepts the key" in tested["content"] and "works" in tested["content"]
        assert sim_b.base_url in tested["content"] and sim_b.submits == 0
        config = await admin(fake_discord, "config", user=mod2, guild_id=guild_b.id)
        [field] = [f for f in config["embeds"][0]["fields"] if f["name"] == "Image service"]
        assert sim_b.base_url in field["value"] and KEY_B[-4:] in field["value"]
        default = await admin(fake_discord, "api show")
        assert "operator's image service" in default["content"]

        # One job in each server, at the same time.
        await imagine_in(fake_discord, fake_discord.guild, "alice", "a red fox in server A")
        await imagine_in(fake_discord, guild_b, "carol", "a blue whale in server B")
        job_a = await wait_job_message(fake_discord, "a red fox in server A")
        job_b = await wait_job_message(fake_discord, "a blue whale in server B")
        assert int(job_b["channel_id"]) == general_b.id
        sim.advance(JOB_SECONDS)
        sim_b.advance(JOB_SECONDS)
        final_a = await wait_final(fake_discord, int(job_a["id"]))
        final_b = await wait_final(fake_discord, int(job_b["id"]))
        assert final_a["attachments"] and final_b["attachments"]

        # Submits, polls and downloads each went only to the server's own proxy.
        assert submitted_prompts(sim) == ["a red fox in server A"]
        assert submitted_prompts(sim_b) == ["a blue whale in server B"]
        jobs = {j.prompt: j for j in await _all_jobs(running)}
        id_a, id_b = jobs["a red fox in server A"].task_id, jobs["a blue whale in server B"].task_id
        assert polled_ids(sim) == {id_a} and polled_ids(sim_b) == {id_b}
        assert downloads(sim) and all(id_a in r.path for r in downloads(sim))
        assert downloads(sim_b) and all(id_b in r.path for r in downloads(sim_b))
        assert all(
            r.headers.get("authorization") == f"Bearer {KEY_B}"
            for r in sim_b.requests
            if "/submit/" in r.path or "list-by-condition" in r.path
        )
        assert not any(KEY_B in json.dumps(r.headers) for r in sim.requests)

        # /mjadmin stats: the operator's prices estimate only what ran on the operator's proxy.
        stats_b = await admin(fake_discord, "stats", user=mod2, guild_id=guild_b.id)
        description_b = stats_b["embeds"][0]["description"]
        assert "Estimated cost: **0.00**" in description_b
        assert "1 of these jobs ran on this server's own image service" in description_b
        stats_a = (await admin(fake_discord, "stats"))["embeds"][0]["description"]
        assert "Estimated cost: **0.05**" in stats_a and "own image service" not in stats_a

        # Buttons follow each server's backend family; a click goes to the job's own proxy.
        actions_a, actions_b = sim.count("/submit/action"), sim_b.count("/submit/action")
        await click(fake_discord, final_b, "U1", user=_member(guild_b, "carol"))
        await click(fake_discord, final_a, "U1")
        upscale_b = await child_of(fake_discord, final_b)
        upscale_a = await child_of(fake_discord, final_a)
        assert sim_b.count("/submit/action") == actions_b + 1
        assert sim.count("/submit/action") == actions_a + 1
        sim.advance(JOB_SECONDS)
        sim_b.advance(JOB_SECONDS)
        upscale_b = await wait_final(fake_discord, int(upscale_b["id"]))
        upscale_a = await wait_final(fake_discord, int(upscale_a["id"]))
        assert "Animate (High motion)" in labels(upscale_a)  # plus offers it
        assert "Animate (High motion)" not in labels(upscale_b)  # new-api refuses it: hidden
        assert "Vary (Strong)" in labels(upscale_b)

        # /show of a job whose message is gone fetches its image again from its own proxy.
        await fake_discord.store.delete(int(final_b["id"]))
        downloads_before = len(downloads(sim_b)), len(downloads(sim))
        shown_again = await fake_discord.slash(
            "show",
            {"job": str(jobs["a blue whale in server B"].id)},
            user=_member(guild_b, "carol"),
            guild_id=guild_b.id,
        )
        said = await shown_again.wait_original(
            lambda m: m.get("content") and "Posting it again" not in m["content"]
        )
        assert "uploaded again from the image service" in said["content"]
        assert len(downloads(sim_b)) == downloads_before[0] + 1
        assert len(downloads(sim)) == downloads_before[1]

        # The server's key is refused from now on, while a job runs in each server: its polls
        # are refused, its job waits and says so, its moderators are told; server A goes on.
        await imagine_in(fake_discord, guild_b, "carol", "a whale when the key goes")
        await imagine_in(fake_discord, fake_discord.guild, "alice", "a fox that still works")
        job_b_waiting = await wait_job_message(fake_discord, "a whale when the key goes")
        job_a2 = await wait_job_message(fake_discord, "a fox that still works")
        sim_b.api_key = "sk-someone-revoked-it"
        await wait_audit(fake_discord, logs_b.id, "own image service refuses its API key")
        await fake_discord.wait_for(
            lambda: "refuses" in fake_discord.messages[int(job_b_waiting["id"])]["content"]
        )
        sim.advance(JOB_SECONDS)
        final_a2 = await wait_final(fake_discord, int(job_a2["id"]))
        assert "refuses" not in final_a2["content"]
        await imagine_in(fake_discord, guild_b, "carol", "a refused whale")  # refused at submit
        assert "a refused whale" not in submitted_prompts(sim)
        assert submitted_prompts(sim) == ["a red fox in server A", "a fox that still works"]
        # The key works again: the waiting job resumes by itself.
        sim_b.api_key = KEY_B
        sim_b.advance(JOB_SECONDS)
        resumed = await wait_final(fake_discord, int(job_b_waiting["id"]))
        assert "refuses" not in resumed["content"]

        # A job keeps its proxy when its server changes proxies (and across a restart).
        sim_b.api_key = KEY_B
        await imagine_in(fake_discord, guild_b, "carol", "a whale across a change")
        job_b2 = await wait_job_message(fake_discord, "a whale across a change")
        cleared = await admin(fake_discord, "api clear", user=mod2, guild_id=guild_b.id)
        assert "operator's again" in cleared["content"]
        await wait_audit(fake_discord, logs_b.id, "own image service disconnected")
        assert await running.stop() == 0
        running = await start(
            fake_discord, sim, tmp_path, guild_b, secret_key=SECRET, allow_private_proxies=True
        )
        sim_b.advance(JOB_SECONDS)
        final_b2 = await wait_final(fake_discord, int(job_b2["id"]))
        assert final_b2["attachments"]
        assert "a whale across a change" not in submitted_prompts(sim)
        # Its buttons send nothing now that the server disconnected that proxy (the
        # operator's proxy got one click above, server A's U1, and gets none of these).
        actions_b = sim_b.count("/submit/action")
        handle = await click(fake_discord, final_b2, "U1", user=_member(guild_b, "carol"))
        told = await fake_discord.wait_for(
            lambda: next((m for m in handle.followups if m.get("content")), None)
        )
        assert "has since disconnected" in told["content"] and told["flags"] & EPHEMERAL
        assert sim_b.count("/submit/action") == actions_b and sim.count("/submit/action") == 1
    finally:
        if not running.task.done():
            assert await running.stop() == 0

    # The key in clear: in no log record, no Discord message, no database file.
    assert not [r for r in caplog.records if KEY_B in r.getMessage()]
    # The operator's log says whose key it is: not the one in the config.
    [refused_log] = [
        r.getMessage() for r in caplog.records if "refuses its API key" in r.getMessage()
    ]
    assert f"guild {guild_b.id}" in refused_log and "midjourney.api_key" not in refused_log
    assert not [r for r in caplog.records if "refuses the bot's API key" in r.getMessage()]
    assert KEY_B not in json.dumps(list(fake_discord.messages.values()))
    assert KEY_B not in json.dumps([i.modal for i in fake_discord.interactions.values()])
    assert_not_stored(tmp_path, KEY_B)


def assert_not_stored(folder: Path, key: str) -> None:
    """Neither the database, its WAL nor a backup holds the key (with or without sk-)."""
    from storage.backup import backup_database

    backup_database(folder / "mjbot.sqlite3", folder / "backup.sqlite3")
    files = [*folder.glob("mjbot.sqlite3*"), folder / "backup.sqlite3"]
    assert len(files) >= 2
    for path in files:
        data = path.read_bytes()
        assert key.encode() not in data and key.removeprefix("sk-").encode() not in data


async def _all_jobs(running: RunningBot) -> list[Any]:
    from storage.records import job_columns

    rows = await running.services.db.fetch_all(f"SELECT {job_columns()} FROM jobs")
    from storage.jobs import JobRecord

    return [JobRecord.from_row(r) for r in rows]


async def test_without_a_proxy_and_no_default_members_are_told_and_nothing_is_sent(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: Any
) -> None:
    await mjbot(midjourney={"allow_default": False})
    handle = await fake_discord.slash("imagine", {"prompt": "a fox nobody pays for"})
    await handle.wait_response()
    message = await fake_discord.wait_for(
        lambda: next((m for m in [handle.original, *handle.followups] if m and m["content"]), None)
    )
    assert "A moderator must connect one with `/mjadmin api set`" in message["content"]
    assert message.get("flags", 0) & EPHEMERAL or handle.ephemeral
    assert sim.submits == 0
    shown = await admin(fake_discord, "api show")
    assert "no image service" in shown["content"]


async def test_api_set_without_a_secret_key_tells_the_operator_what_to_set(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: Any
) -> None:
    await mjbot()
    handle = await fake_discord.slash(("mjadmin", "api", "set"), user=fake_discord.users["mod"])
    await handle.wait_response()
    assert handle.response_type != 9  # no dialog
    message = await answer(handle)
    assert "MJBOT_SECURITY__SECRET_KEY" in message["content"]


async def test_an_address_on_the_bots_own_network_is_refused_unless_allowed(
    fake_discord: FakeDiscord, sim: Simulator, sim_b: Simulator, tmp_path: Path
) -> None:
    guild_b = second_guild(fake_discord)
    running = await start(fake_discord, sim, tmp_path, guild_b, secret_key=SECRET)
    try:
        form = {
            "api_base_url": sim_b.base_url,  # 127.0.0.1: this machine
            "api_path_prefix": "/v1/mj",
            "api_api_key": KEY_B,
            "api_auth_style": "bearer",
            "api_backend": "new-api",
        }
        refused = await connect(fake_discord, guild_b, form)
        assert "private network or this machine" in refused
        metadata = await connect(
            fake_discord, guild_b, {**form, "api_base_url": "http://169.254.169.254"}
        )
        assert "private network or this machine" in metadata
        assert not sim_b.requests  # not even probed
        shown = await admin(
            fake_discord, "api show", user=_member(guild_b, "mod2"), guild_id=guild_b.id
        )
        assert "operator's image service" in shown["content"]
    finally:
        assert await running.stop() == 0


def _member(guild: Guild, name: str) -> User:
    return next(m.user for m in guild.members if m.user.username == name)


async def test_jobs_whose_key_cannot_be_read_fail_at_their_deadline_and_say_why(
    fake_discord: FakeDiscord, sim: Simulator, sim_b: Simulator, tmp_path: Path
) -> None:
    """The operator lost or changed security.secret_key without `mjbot rotate-key`."""
    guild_b = second_guild(fake_discord)
    general_b, logs_b = guild_b.channels
    mod2 = _member(guild_b, "mod2")
    quick = {"job_timeout_minutes": 0.05}  # 3 s
    running = await start(
        fake_discord, sim, tmp_path, guild_b, quick, secret_key=SECRET, allow_private_proxies=True
    )
    try:
        await admin(
            fake_discord, "auditlog", {"channel": logs_b.id}, user=mod2, guild_id=guild_b.id
        )
        form = {
            "api_base_url": sim_b.base_url,
            "api_path_prefix": "/v1/mj",
            "api_api_key": KEY_B,
            "api_auth_style": "bearer",
            "api_backend": "new-api",
        }
        assert "Saved" in await connect(fake_discord, guild_b, form)
        await imagine_in(fake_discord, guild_b, "carol", "a whale before the key changed")
        job = await wait_job_message(fake_discord, "a whale before the key changed")
        assert await running.stop() == 0
        other = Fernet.generate_key().decode()
        running = await start(fake_discord, sim, tmp_path, guild_b, quick, secret_key=other)
        await wait_audit(fake_discord, logs_b.id, "own image service refuses its API key")
        failed = await fake_discord.wait_for(
            lambda: "given up" in (m := fake_discord.messages[int(job["id"])])["content"] and m,
            timeout=10.0,
        )
        assert "a whale before the key changed" in failed["content"]
        submits = sim_b.submits
        handle = await imagine_in(fake_discord, guild_b, "carol", "a whale after it")
        refusal = await fake_discord.wait_for(
            lambda: next(
                (m for m in [handle.original, *handle.followups] if m and m["content"]), None
            )
        )
        assert "cannot be used right now" in refusal["content"]
        assert sim_b.submits == submits and int(job["channel_id"]) == general_b.id
    finally:
        if not running.task.done():
            assert await running.stop() == 0


async def test_a_moderators_cancel_reaches_the_jobs_own_proxy(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    sim_b = Simulator("trueai", api_key=KEY_B, prefix="/mj-fast/mj", clock=ManualClock())
    await sim_b.start()
    guild_b = second_guild(fake_discord)
    running = await start(
        fake_discord, sim, tmp_path, guild_b, secret_key=SECRET, allow_private_proxies=True
    )
    try:
        form = {
            "api_base_url": sim_b.base_url,
            "api_path_prefix": "/mj-fast/mj",
            "api_api_key": KEY_B,
            "api_auth_style": "raw",
            "api_backend": "trueai",
        }
        assert "Saved" in await connect(fake_discord, guild_b, form)
        await imagine_in(fake_discord, guild_b, "carol", "a whale to cancel")
        await wait_job_message(fake_discord, "a whale to cancel")
        [job] = [j for j in await _all_jobs(running) if j.prompt == "a whale to cancel"]
        mod2 = _member(guild_b, "mod2")
        done = await admin(
            fake_discord, "jobs cancel", {"job": job.id}, user=mod2, guild_id=guild_b.id
        )
        assert str(job.id) in done["content"]
        assert sim_b.count(f"/task/{job.task_id}/cancel") == 1
        assert sim.count("/cancel") == 0
    finally:
        assert await running.stop() == 0
        await sim_b.stop()


async def test_without_a_default_a_server_works_with_its_own_proxy_until_it_clears_it(
    fake_discord: FakeDiscord, sim: Simulator, sim_b: Simulator, tmp_path: Path
) -> None:
    running = await start(
        fake_discord,
        sim,
        tmp_path,
        None,
        {"allow_default": False},
        secret_key=SECRET,
        allow_private_proxies=True,
    )
    try:
        mod = fake_discord.users["mod"]
        handle = await fake_discord.slash(("mjadmin", "api", "set"), user=mod)
        await handle.wait_response()
        form = {
            "api_base_url": sim_b.base_url,
            "api_path_prefix": "/v1/mj",
            "api_api_key": KEY_B,
            "api_auth_style": "bearer",
            "api_backend": "new-api",
        }
        assert "Saved" in (await answer(await fake_discord.submit_modal(handle, form)))["content"]
        await imagine_in(fake_discord, fake_discord.guild, "alice", "a fox on its own proxy")
        await wait_job_message(fake_discord, "a fox on its own proxy")
        assert submitted_prompts(sim_b) == ["a fox on its own proxy"] and sim.submits == 0

        cleared = await admin(fake_discord, "api clear")
        assert "This bot offers no shared one" in cleared["content"]
        handle = await imagine_in(fake_discord, fake_discord.guild, "alice", "a fox too late")
        told = await fake_discord.wait_for(
            lambda: next(
                (m for m in [handle.original, *handle.followups] if m and m["content"]), None
            )
        )
        assert "A moderator must connect one with `/mjadmin api set`" in told["content"]
        assert sim.submits == 0 and sim_b.submits == 1
        again = await admin(fake_discord, "api clear")
        assert "no image service of its own" in again["content"]
    finally:
        assert await running.stop() == 0
