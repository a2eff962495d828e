"""/mjadmin end to end: who may use it, access rules on commands and clicks, pause, audit log."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import click, finish, imagine_grid, is_public_bot_message, wait_job_message
from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, Interaction, InteractionRejected, User


async def admin(
    fake: FakeDiscord,
    command: str,
    options: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run `/mjadmin <command>` (as `mod` unless told) and return its private answer."""
    handle = await fake.slash(
        ("mjadmin", *command.split()), options or {}, user=user or fake.users["mod"], **kwargs
    )
    return await answer(handle)


async def answer(handle: Interaction) -> dict[str, Any]:
    """The private message the bot answered an interaction with (after its defer)."""
    await handle.wait_response()
    message = await handle.fake.wait_for(
        lambda: (
            next(iter(handle.followups), None)
            or (handle.original if handle.original and _has_body(handle.original) else None)
        )
    )
    assert handle.ephemeral or message.get("flags", 0) & 64
    return message


def _has_body(message: dict[str, Any]) -> bool:
    return bool(message.get("content") or message.get("embeds") or message.get("attachments"))


async def imagine(fake: FakeDiscord, prompt: str, **kwargs: Any) -> Interaction:
    handle = await fake.slash("imagine", {"prompt": prompt}, **kwargs)
    await handle.wait_response()
    return handle


async def refusal(handle: Interaction, text: str) -> str:
    """The private refusal (containing `text`) the member got."""
    message = await handle.fake.wait_for(
        lambda: next(
            (m for m in [handle.original, *handle.followups] if m and text in m["content"]), None
        )
    )
    return str(message["content"])


# ---- who may use /mjadmin -------------------------------------------------------------------
async def test_mjadmin_is_hidden_from_members_and_refused_at_run_time(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    await mjbot()
    [command] = [c for c in fake_discord.commands[fake_discord.guild.id] if c["name"] == "mjadmin"]
    assert int(command["default_member_permissions"]) == MANAGE_GUILD
    assert command.get("contexts") == [0] or command.get("dm_permission") is False  # guild only
    alice = fake_discord.users["alice"]
    try:
        await fake_discord.slash(("mjadmin", "pause"), user=alice)
    except InteractionRejected as exc:
        assert "hidden" in str(exc)
    else:
        raise AssertionError("/mjadmin was offered to a member")

    # An Integrations override (or a stale client) lets her invoke it: the bot still refuses.
    message = await admin(fake_discord, "pause", user=alice, force=True)
    assert "Manage Server" in message["content"]
    config = await admin(fake_discord, "config")
    assert "Active" in str(config["embeds"])  # nothing was paused
    await imagine(fake_discord, "still allowed", user=alice)
    await wait_job_message(fake_discord, "still allowed")


async def test_refusal_speaks_the_members_language(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    await mjbot()
    bob = fake_discord.users["bob"]
    message = await admin(fake_discord, "words list", user=bob, force=True, locale="zh-CN")
    assert "管理服务器" in message["content"]


# ---- access: channels, roles, bans -----------------------------------------------------------
async def test_allowed_channels_apply_to_commands_and_clicks(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    general, logs = fake_discord.guild.channels
    grid = await imagine_grid(fake_discord, sim, "a lighthouse")
    message = await admin(fake_discord, "channel add", {"channel": logs.id})
    assert f"<#{logs.id}>" in message["content"]

    handle = await imagine(fake_discord, "a ship")
    text = await refusal(handle, "not set up for the bot")
    assert f"<#{logs.id}>" in text  # says where to go instead
    clicked = await click(fake_discord, grid, "U1")
    await refusal(clicked, "not set up for the bot")
    assert sim.count("/submit/imagine") == 1 and sim.count("/submit/action") == 0

    await imagine(fake_discord, "a ship in the right place", channel_id=logs.id)
    await wait_job_message(fake_discord, "a ship in the right place")
    listed = await admin(fake_discord, "channel list")
    assert f"<#{logs.id}>" in listed["content"] and f"<#{general.id}>" not in listed["content"]

    removed = await admin(fake_discord, "channel remove", {"channel": logs.id})
    assert "everywhere" in removed["content"]
    await click(fake_discord, grid, "U1")
    await fake_discord.wait_for(lambda: sim.count("/submit/action") == 1)


async def test_allowed_roles_apply_to_commands_and_clicks(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a meadow")
    moderators = next(r for r in fake_discord.guild.roles if r.name == "Moderators")
    await admin(fake_discord, "role add", {"role": moderators.id})

    text = await refusal(await imagine(fake_discord, "a forest"), "roles")
    assert f"<@&{moderators.id}>" in text and "Ask a moderator" in text
    await refusal(await click(fake_discord, grid, "U2"), "roles")
    assert sim.count("/submit/action") == 0

    mod = fake_discord.users["mod"]
    await click(fake_discord, grid, "U2", user=mod)
    await fake_discord.wait_for(lambda: sim.count("/submit/action") == 1)
    listed = await admin(fake_discord, "role list")
    assert f"<@&{moderators.id}>" in listed["content"]
    await admin(fake_discord, "role remove", {"role": moderators.id})
    await imagine(fake_discord, "a forest again")
    await wait_job_message(fake_discord, "a forest again")


async def test_ban_and_unban_apply_to_commands_and_clicks(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    alice = fake_discord.users["alice"]
    grid = await imagine_grid(fake_discord, sim, "a dune")
    done = await admin(fake_discord, "ban", {"user": alice.id, "reason": "spam prompts"})
    assert f"<@{alice.id}>" in done["content"] and "spam prompts" in done["content"]

    text = await refusal(await imagine(fake_discord, "another dune"), "may not use the bot")
    assert "spam prompts" in text
    await refusal(await click(fake_discord, grid, "U3"), "spam prompts")
    assert sim.count("/submit/imagine") == 1 and sim.count("/submit/action") == 0
    config = await admin(fake_discord, "config")
    assert "spam prompts" in str(config["embeds"])

    await admin(fake_discord, "unban", {"user": alice.id})
    await click(fake_discord, grid, "U3")
    await fake_discord.wait_for(lambda: sim.count("/submit/action") == 1)
    again = await admin(fake_discord, "unban", {"user": alice.id})
    assert "is not banned" in again["content"]


# ---- pause / resume --------------------------------------------------------------------------
async def test_pause_stops_new_jobs_and_clicks_while_running_jobs_finish(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a volcano")
    await imagine(fake_discord, "a running job")
    running = await wait_job_message(fake_discord, "a running job")

    paused = await admin(fake_discord, "pause")
    assert "Paused" in paused["content"]
    await refusal(await imagine(fake_discord, "a new job"), "paused")
    await refusal(await click(fake_discord, grid, "V1"), "paused")
    assert sim.count("/submit/imagine") == 2 and sim.count("/submit/action") == 0

    final = await finish(fake_discord, sim, int(running["id"]))  # in flight: still finishes
    assert final["attachments"]
    await admin(fake_discord, "resume")
    await imagine(fake_discord, "after the pause")
    await wait_job_message(fake_discord, "after the pause")


# ---- audit-log channel -------------------------------------------------------------------------
async def test_audit_channel_gets_every_change_and_every_job(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    logs = fake_discord.guild.channels[1]
    mod, alice = fake_discord.users["mod"], fake_discord.users["alice"]
    await admin(fake_discord, "auditlog", {"channel": logs.id})

    def posted(text: str) -> dict[str, Any] | None:
        return next(
            (m for m in fake_discord.channel_messages(logs.id) if text in m["content"]), None
        )

    line = await fake_discord.wait_for(lambda: posted("audit-log channel"))
    assert f"<@{mod.id}>" in line["content"] and "<t:" in line["content"]  # who, what, when

    await admin(fake_discord, "quota weight", {"action": "upscale_hd", "units": 2})
    await fake_discord.wait_for(lambda: posted("upscale\\_hd = 2"))  # shown literally

    grid = await imagine_grid(fake_discord, sim, "an audited castle")
    job_line = await fake_discord.wait_for(lambda: posted("an audited castle"))
    assert f"<@{alice.id}>" in job_line["content"] and "imagine" in job_line["content"]
    assert f"/{grid['channel_id']}/{grid['id']}" in job_line["content"]  # the result link
    assert "done" in job_line["content"]

    # A prompt the proxy refuses (code 24) is reported too, with its word.
    handle = await imagine(fake_discord, "a banned-word castle")
    await refusal(handle, "banned-word")
    refused = await fake_discord.wait_for(lambda: posted("a banned-word castle"))
    assert "failed" in refused["content"] and "banned-word" in refused["content"]

    await admin(fake_discord, "auditlog")  # off
    await fake_discord.wait_for(lambda: posted("audit-log channel: -"))
    count = len(fake_discord.channel_messages(logs.id))
    await imagine_grid(fake_discord, sim, "an unaudited castle")
    assert len(fake_discord.channel_messages(logs.id)) == count
    assert all(
        is_public_bot_message(fake_discord, m) for m in fake_discord.channel_messages(logs.id)
    )


async def test_a_failing_audit_channel_never_fails_the_job(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    logs = fake_discord.guild.channels[1]
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    await fake_discord.wait_for(lambda: fake_discord.channel_messages(logs.id))
    refused = fake_discord.inject_error(
        "POST",
        rf"/channels/{logs.id}/messages",
        status=403,
        times=1,
        body={"code": 50013, "message": "Missing Permissions"},
    )
    grid = await imagine_grid(fake_discord, sim, "a job with a broken audit channel")
    await fake_discord.wait_for(lambda: refused.times == 0)  # the audit post was refused
    assert grid["attachments"]
    # The next job is shown and audited as usual.
    await imagine_grid(fake_discord, sim, "the next job")
    await fake_discord.wait_for(
        lambda: any("the next job" in m["content"] for m in fake_discord.channel_messages(logs.id))
    )
