"""The moderators' context menus "Job info" (message) and "Usage" (user), end to end."""

from __future__ import annotations

import pytest

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import click, finish, imagine_grid, reply_to
from tests.fakes.discord import FakeDiscord, InteractionRejected


async def test_job_info_for_a_moderator_and_not_for_a_member(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot(quota={"weights": {"upscale": 2}})
    alice, mod = fake_discord.users["alice"], fake_discord.users["mod"]
    grid = await imagine_grid(fake_discord, sim, "a copper kettle")
    await click(fake_discord, grid, "U3")
    upscale = await reply_to(fake_discord, int(grid["id"]))
    upscale = await finish(fake_discord, sim, int(upscale["id"]))
    child = await bot.services.job_repo.job_for_message(int(upscale["id"]))

    handle = await fake_discord.context_menu("Job info", upscale, user=mod)
    info = (await handle.wait_original(lambda m: "Job #" in m.get("content", "")))["content"]
    assert handle.ephemeral
    assert f"**Job #{child.id}**" in info and f"Member: <@{alice.id}>" in info
    assert "Prompt as sent: `a copper kettle`" in info and "Upscale (U3)" in info
    assert "image service ran" not in info  # the simulator ran it as sent
    assert f"Started from job #{child.parent_job_id}: https://discord.com/channels/" in info
    assert f"/{grid['id']}" in info and f"Task id: `{child.task_id}`" in info
    assert "State: ✅ success" in info and "Submitted <t:" in info and "finished <t:" in info
    assert "Units charged: 2 units" in info and "last answer: success · 100%\n" in info
    # The proxy's own answer, asked now, as it gave it.
    live = info.split("The image service says now:\n```json\n", 1)[1]
    assert live.endswith("\n```") and f'"id": "{child.task_id}"' in live
    assert '"status": "SUCCESS"' in live and sim.count(f"/task/{child.task_id}/fetch") >= 1

    # It no longer knows the task (204, as midjourney-proxy says it), or cannot be asked.
    sim.inject_reply(f"task/{child.task_id}/fetch", None, status=204)
    again = await fake_discord.context_menu("Job info", upscale, user=mod)
    text = (await again.wait_original(lambda m: "Job #" in m.get("content", "")))["content"]
    assert text.endswith("The image service says now: it does not know this task.")
    sim.inject_fault(f"task/{child.task_id}/fetch", "http500")
    failed = await fake_discord.context_menu("Job info", upscale, user=mod)
    text = (await failed.wait_original(lambda m: "Job #" in m.get("content", "")))["content"]
    assert "The image service could not be asked now: HTTP 500" in text and "```" not in text

    grid_info = await fake_discord.context_menu("Job info", grid, user=mod, locale="zh-CN")
    text = (await grid_info.wait_original(lambda m: m.get("content")))["content"]
    assert "扣除点数：1 点" in text and "实际发送的提示词" in text

    # Not offered to members; forced through anyway, it is refused and says nothing.
    with pytest.raises(InteractionRejected, match="not offered"):
        await fake_discord.context_menu("Job info", upscale, user=alice)
    forced = await fake_discord.context_menu("Job info", upscale, user=alice, force=True)
    refused = (await forced.wait_original(lambda m: m.get("content")))["content"]
    assert "not allowed" in refused and "Task id" not in refused

    # A message that is no job message.
    note = await fake_discord.user_message("hello")
    other = await fake_discord.context_menu("Job info", note, user=mod)
    assert (
        "not one of the bot's job messages"
        in (await other.wait_original(lambda m: m.get("content")))["content"]
    )


async def test_usage_today_and_this_week_for_a_moderator_only(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"daily_quota": 10, "max_jobs_per_user": 0})
    alice, bob, mod = (fake_discord.users[n] for n in ("alice", "bob", "mod"))
    for prompt in ("one cat", "two cats"):
        handle = await fake_discord.slash("imagine", {"prompt": prompt})
        await handle.wait_original(lambda m: "started" in m.get("content", ""))

    handle = await fake_discord.context_menu("Usage", alice, user=mod)
    text = (await handle.wait_original(lambda m: "Usage of" in m.get("content", "")))["content"]
    assert handle.ephemeral
    assert f"**Usage of <@{alice.id}>**" in text
    assert "Today: **2** units, 2 jobs" in text and "This week (since <t:" in text
    assert "**2** units, 2 jobs" in text.split("This week")[1]
    assert "Daily quota: 10 units" in text

    handle = await fake_discord.context_menu("Usage", bob, user=mod)
    text = (await handle.wait_original(lambda m: "Usage of" in m.get("content", "")))["content"]
    assert "Today: **0** units, 0 jobs" in text

    with pytest.raises(InteractionRejected, match="not offered"):
        await fake_discord.context_menu("Usage", alice, user=bob)
    forced = await fake_discord.context_menu("Usage", alice, user=bob, force=True)
    refused = (await forced.wait_original(lambda m: m.get("content")))["content"]
    assert "not allowed" in refused and "Today" not in refused
