"""/mjadmin stats, jobs, cancel and config end to end, and one guild never sees another's."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import RunningBot, make_settings, start_bot
from tests.e2e.steps import click, finish, imagine_grid, reply_to, wait_job_message
from tests.e2e.test_admin import admin, imagine, refusal
from tests.fakes.discord import (
    ALL_PERMISSIONS,
    MANAGE_GUILD,
    Channel,
    FakeDiscord,
    Guild,
    Member,
    Role,
    User,
)


def embed_text(message: dict[str, Any]) -> str:
    parts: list[str] = []
    for embed in message.get("embeds", []):
        parts += [embed.get("title", ""), embed.get("description", "")]
        for item in embed.get("fields", []):
            parts += [item["name"], item["value"]]
    return "\n".join(parts)


async def test_stats_show_jobs_units_failures_cost_and_a_chart(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"prices": {"imagine": 0.05, "upscale": 0.02}})
    alice, bob = fake_discord.users["alice"], fake_discord.users["bob"]
    grid = await imagine_grid(fake_discord, sim, "a counted fox")
    await click(fake_discord, grid, "U1")
    await finish(fake_discord, sim, int((await reply_to(fake_discord, int(grid["id"])))["id"]))
    await imagine(fake_discord, "a failing job", user=bob)
    failing = await wait_job_message(fake_discord, "a failing job")
    [task_id] = [t for t, task in sim.tasks.items() if "failing" in task.prompt]
    sim.fail(task_id, "upstream said no")
    await fake_discord.wait_for(
        lambda: "upstream said no" in fake_discord.messages[int(failing["id"])]["content"]
    )

    message = await admin(fake_discord, "stats", {"days": 7})
    text = embed_text(message)
    assert "last 7 days" in text
    assert "**3** jobs · **2** units · **1** failed" in text  # the failed job was refunded
    assert "0.07" in text  # one imagine and one upscale that did not fail
    assert f"<@{alice.id}>: jobs 2, units 2, failed 0" in text
    assert f"<@{bob.id}>: jobs 1, units 0, failed 1" in text
    assert "imagine: jobs 2" in text and "upscale: jobs 1" in text
    [attachment] = message["attachments"]
    assert attachment["filename"] == "usage.png"
    assert message["embeds"][0]["image"]["url"] == "attachment://usage.png"
    png = fake_discord.store.files[int(attachment["id"])].data
    assert Image.open(io.BytesIO(png)).format == "PNG"


async def test_stats_without_prices_say_so(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    message = await admin(fake_discord, "stats", {"days": 1}, locale="zh-CN")
    text = embed_text(message)
    assert "今天的使用情况" in text and "quota.prices" in text
    assert message["attachments"][0]["filename"] == "usage.png"


async def test_jobs_list_links_running_jobs_and_cancel_refunds_them(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot(quota={"daily_quota": 1})
    alice = fake_discord.users["alice"]
    handle = await imagine(fake_discord, "a job to cancel")
    message = await wait_job_message(fake_discord, "a job to cancel")
    await handle.wait_original(lambda m: "started" in m["content"])  # the message is recorded
    [job] = await bot.services.job_repo.jobs_in_flight(fake_discord.guild.id)
    link = f"/{fake_discord.guild.id}/{message['channel_id']}/{message['id']}"

    listed = embed_text(await admin(fake_discord, "jobs list"))
    assert f"`#{job.id}`" in listed and link in listed and f"<@{alice.id}>" in listed
    assert "Running (1)" in listed

    done = await admin(fake_discord, "jobs cancel", {"job": job.id})
    assert f"#{job.id} was cancelled" in done["content"]
    assert sim.status_of(str(job.task_id)) == "CANCEL"  # the proxy was asked to stop it
    assert job.task_id not in bot.services.tracker.followed_task_ids
    await fake_discord.wait_for(
        lambda: "Cancelled" in fake_discord.messages[int(message["id"])]["content"]
    )
    await imagine(fake_discord, "the refunded unit")  # quota 1: the cancel gave it back
    await wait_job_message(fake_discord, "the refunded unit")

    again = await admin(fake_discord, "jobs cancel", {"job": job.id})
    assert "already finished" in again["content"]
    listed = embed_text(await admin(fake_discord, "jobs list"))
    assert f"`#{job.id}` cancelled" in listed
    missing = await admin(fake_discord, "jobs cancel", {"job": 999_999})
    assert "no job #999999" in missing["content"]


async def test_config_shows_the_whole_configuration_on_one_page(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"prices": {"imagine": 0.05}})
    general, logs = fake_discord.guild.channels
    bob = fake_discord.users["bob"]
    moderators = next(r for r in fake_discord.guild.roles if r.name == "Moderators")
    for command, options in [
        ("channel add", {"channel": general.id}),
        ("role add", {"role": moderators.id}),
        ("quota set", {"units": 10}),
        ("quota set", {"units": 2, "member": bob.id}),
        ("quota cap", {"units": 0}),
        ("quota jobs", {"per_user": 2}),
        ("ban", {"user": bob.id, "reason": "off-topic"}),
        ("words add", {"word": "kraken"}),
        ("auditlog", {"channel": logs.id}),
        ("pause", {}),
    ]:
        await admin(fake_discord, command, options)
    message = await admin(fake_discord, "config")
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert message["embeds"][0]["title"] == "Configuration of Test Server"
    assert fields["State"] == "⏸️ Paused"
    assert fields["Audit-log channel"] == f"<#{logs.id}>"
    assert fields["Allowed channels"] == f"<#{general.id}>"
    assert fields["Allowed roles"] == f"<@&{moderators.id}>"
    assert fields["Daily quota"] == "10 units per member · no limit for the server"
    assert fields["Jobs at the same time"] == "2 per member · 20 for the server"
    assert "imagine 1" in fields["Units per action"]
    assert fields["Prices per action"] == "imagine 0.05"
    assert fields["Members' own quotas"] == f"<@{bob.id}> 2"
    assert fields["Banned members"] == f"<@{bob.id}> (off-topic)"
    assert fields["Banned words"] == "`kraken`"

    chinese = await admin(fake_discord, "config", locale="zh-CN")
    assert "⏸️ 已暂停" in embed_text(chinese)


# ---- isolation -------------------------------------------------------------------------------
def add_second_guild(fake: FakeDiscord) -> Guild:
    """'Other Server': carol (member), mod2 (its moderator) and mod, who moderates only guild 1."""
    new = fake.clock.snowflake
    moderators = Role(new(), "Art Mods", MANAGE_GUILD, position=1)
    bot_role = Role(new(), "mjbot", ALL_PERMISSIONS, position=2)
    carol, mod2 = User(new(), "carol"), User(new(), "mod2")
    guild = Guild(
        new(),
        "Other Server",
        channels=[Channel(new(), "art")],
        roles=[moderators, bot_role],
        members=[
            Member(carol),
            Member(mod2, [moderators.id]),
            Member(fake.users["mod"]),
            Member(fake.bot_user, [bot_role.id]),
        ],
        owner_id=mod2.id,
    )
    fake.guilds.append(guild)
    return guild


@pytest.fixture
async def two_guilds(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> AsyncIterator[tuple[RunningBot, Guild]]:
    other = add_second_guild(fake_discord)
    settings = make_settings(fake_discord, sim, tmp_path / "mjbot.sqlite3")
    ids = [g.id for g in fake_discord.guilds]
    settings = settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"guild_ids": ids})}
    )
    running = await start_bot(fake_discord, settings)
    yield running, other
    assert await running.stop() == 0


async def test_nothing_of_one_guild_is_visible_or_changeable_from_another(
    fake_discord: FakeDiscord, sim: Simulator, two_guilds: tuple[RunningBot, Guild]
) -> None:
    running, other = two_guilds
    logs = fake_discord.guild.channels[1]
    mod2, carol = fake_discord.users["mod2"], fake_discord.users["carol"]
    await admin(fake_discord, "words add", {"word": "kraken"})
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    await imagine(fake_discord, "a job of the first guild")
    await wait_job_message(fake_discord, "a job of the first guild")
    [job] = await running.services.job_repo.jobs_in_flight(fake_discord.guild.id)
    audit_lines = len(fake_discord.channel_messages(logs.id))

    def in_other(command: str, options: dict[str, Any] | None = None, **kw: Any) -> Any:
        return admin(fake_discord, command, options, user=mod2, guild_id=other.id, **kw)

    refused = await in_other("jobs cancel", {"job": job.id})
    assert f"no job #{job.id} in this server" in refused["content"]
    assert job.task_id in running.services.tracker.followed_task_ids
    listed = embed_text(await in_other("jobs list"))
    assert f"#{job.id}" not in listed and "Running (0)" in listed
    assert "**0** jobs" in embed_text(await in_other("stats"))
    config = await in_other("config")
    assert "kraken" not in embed_text(config) and f"<#{logs.id}>" not in embed_text(config)
    assert "Other Server" in embed_text(config)

    # Its own rules stay its own: pausing and banning words there changes nothing here.
    await in_other("pause")
    await in_other("words add", {"word": "lighthouse"})
    await imagine(fake_discord, "a lighthouse in the first guild")
    await wait_job_message(fake_discord, "a lighthouse in the first guild")
    paused = await fake_discord.slash(
        "imagine", {"prompt": "carol's job"}, user=carol, guild_id=other.id
    )
    await paused.wait_response()
    await refusal(paused, "paused")
    assert len(fake_discord.channel_messages(logs.id)) == audit_lines  # nothing of guild 2

    sim.advance(11)  # guild 1's jobs finish and are audited in guild 1's channel only
    await fake_discord.wait_for(
        lambda: len(fake_discord.channel_messages(logs.id)) == audit_lines + 2
    )
    posted = "\n".join(m["content"] for m in fake_discord.channel_messages(logs.id))
    assert "first guild" in posted and "carol" not in posted and "paused" not in posted

    # Moderating one server gives no power in another.
    mod = fake_discord.users["mod"]
    not_here = await admin(fake_discord, "pause", user=mod, guild_id=other.id, force=True)
    assert "Manage Server" in not_here["content"]
