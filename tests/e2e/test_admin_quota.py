"""/mjadmin quotas, weights, in-flight limits and banned words, end to end (bursts included)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import (
    click,
    components,
    finish,
    imagine_grid,
    is_public_bot_message,
    parent_of,
    reply_to,
    upscaled,
    wait_job_message,
)
from tests.e2e.test_admin import admin, imagine, refusal
from tests.fakes.discord import FakeDiscord, User

UNLIMITED_RUNNING = {"max_jobs_per_user": 0, "max_jobs_per_guild": 0}
QUOTA_TEXT = "daily units are left"


def refusals(fake: FakeDiscord, text: str) -> list[dict[str, Any]]:
    return fake.find_messages(contains=text, ephemeral=True)


async def grid_of(fake: FakeDiscord, sim: Simulator, prompt: str, user: User) -> dict[str, Any]:
    await imagine(fake, prompt, user=user)
    message = await wait_job_message(fake, prompt)
    return await finish(fake, sim, int(message["id"]))


async def test_twenty_concurrent_clicks_against_a_quota_of_five_submit_five(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota=UNLIMITED_RUNNING)
    alice, bob = fake_discord.users["alice"], fake_discord.users["bob"]
    set_quota = await admin(fake_discord, "quota set", {"units": 5, "member": alice.id})
    assert f"<@{alice.id}>" in set_quota["content"] and "5 units" in set_quota["content"]
    grids = [await grid_of(fake_discord, sim, f"grid number {n}", bob) for n in range(3)]
    targets = [
        (int(grid["id"]), c["custom_id"])
        for grid in grids
        for c in components(grid)
        if c.get("style") != 5 and c["custom_id"].split(":")[1] not in ("m", "x")  # not ✉️ 🗑️
    ][:20]
    assert len(targets) == 20

    await asyncio.gather(*(fake_discord.click(mid, cid, user=alice) for mid, cid in targets))
    await fake_discord.wait_for(
        lambda: (
            len(refusals(fake_discord, QUOTA_TEXT)) == 15
            and len(alice_jobs(fake_discord, alice)) == 5
        ),
        timeout=10,
    )
    assert sim.count("/submit/action") == 5
    assert "0 of your 5 daily units are left" in refusals(fake_discord, QUOTA_TEXT)[0]["content"]


def alice_jobs(fake: FakeDiscord, alice: User) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.messages.values()
        if is_public_bot_message(fake, m)
        and parent_of(m) is not None
        and f"<@{alice.id}>" in m["content"]
    ]


async def test_twenty_concurrent_imagines_against_a_quota_of_five_submit_five(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota=UNLIMITED_RUNNING)
    await admin(fake_discord, "quota set", {"units": 5})
    await asyncio.gather(*(imagine(fake_discord, f"burst prompt {n}") for n in range(20)))
    await fake_discord.wait_for(
        lambda: (
            len(refusals(fake_discord, QUOTA_TEXT)) == 15
            and len(fake_discord.find_messages(contains="started", ephemeral=True)) == 5
        ),
        timeout=10,
    )
    assert sim.count("/submit/imagine") == 5


async def test_a_job_failed_at_the_proxy_gives_its_units_back(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"daily_quota": 1})
    await imagine(fake_discord, "a doomed job")
    message = await wait_job_message(fake_discord, "a doomed job")
    [task_id] = list(sim.tasks)
    sim.fail(task_id, "the upstream service refused it")
    await fake_discord.wait_for(
        lambda: "upstream service refused" in fake_discord.messages[int(message["id"])]["content"]
    )
    await imagine(fake_discord, "the next job fits the quota")
    await wait_job_message(fake_discord, "the next job fits the quota")
    await refusal(await imagine(fake_discord, "but not a third"), "0 of your 1 daily units")


async def test_weights_and_the_guild_cap_are_charged_per_action(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    weight = await admin(fake_discord, "quota weight", {"action": "upscale_hd", "units": 2})
    assert "2 units" in weight["content"]
    await admin(fake_discord, "quota set", {"units": 3})
    grid = await imagine_grid(fake_discord, sim, "a weighted harbour")  # 1 unit
    await click(fake_discord, grid, "U1")  # 1 unit
    upscale = await finish(
        fake_discord, sim, int((await reply_to(fake_discord, int(grid["id"])))["id"])
    )
    hd = await click(fake_discord, upscale, "Upscale (Subtle)")  # 2 units: over 3
    refused = await refusal(hd, QUOTA_TEXT)
    assert "costs 2 units" in refused and "1 of your 3 daily units are left" in refused

    await admin(fake_discord, "quota weight", {"action": "upscale_hd", "units": 1})
    await click(fake_discord, upscale, "Upscale (Subtle)")
    await fake_discord.wait_for(lambda: sim.count("/submit/action") == 2)

    # The guild-wide cap counts everyone: bob has his own quota left, the server has not.
    await admin(fake_discord, "quota cap", {"units": 3})
    bob = fake_discord.users["bob"]
    text = await refusal(
        await imagine(fake_discord, "bob's turn", user=bob), "server's 3 daily units"
    )
    assert "only 0 of" in text
    config = await admin(fake_discord, "config")
    rendered = str(config["embeds"])
    assert "upscale_hd 1" in rendered and "3 units per member" in rendered


async def test_limits_of_jobs_running_at_the_same_time(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    done = await admin(fake_discord, "quota jobs", {"per_user": 1, "per_guild": 2})
    assert "1 per member, 2 for the server" in done["content"]
    await imagine(fake_discord, "first running job")
    await wait_job_message(fake_discord, "first running job")
    text = await refusal(await imagine(fake_discord, "second job"), "already have 1 job running")
    assert "limit is 1" in text
    bob, mod = fake_discord.users["bob"], fake_discord.users["mod"]
    await imagine(fake_discord, "bob's running job", user=bob)
    await wait_job_message(fake_discord, "bob's running job")
    await refusal(await imagine(fake_discord, "a third one", user=mod), "server already has 2")
    nothing = await admin(fake_discord, "quota jobs")
    assert "per_user" in nothing["content"]


async def test_member_override_and_reset(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    alice = fake_discord.users["alice"]
    await admin(fake_discord, "quota set", {"units": 1, "member": alice.id})
    await imagine(fake_discord, "alice uses her one unit")
    await wait_job_message(fake_discord, "alice uses her one unit")
    await refusal(await imagine(fake_discord, "one too many"), "0 of your 1 daily units")
    config = await admin(fake_discord, "config")
    assert f"<@{alice.id}> 1" in str(config["embeds"])
    await admin(fake_discord, "quota reset", {"member": alice.id})
    await imagine(fake_discord, "back on the default quota")
    await wait_job_message(fake_discord, "back on the default quota")
    again = await admin(fake_discord, "quota reset", {"member": alice.id})
    assert "no quota of their own" in again["content"]


# ---- banned words ------------------------------------------------------------------------------
async def test_banned_words_are_managed_and_refused_before_any_submit(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    added = await admin(fake_discord, "words add", {"word": "Dragon"})
    assert "dragon" in added["content"].lower()
    already = await admin(fake_discord, "words add", {"word": "dragon"})
    assert "already" in already["content"]
    text = await refusal(await imagine(fake_discord, "a red D.R.A.G.O.N over hills"), "rephrase")
    assert "dragon" in text
    assert sim.count("/submit/imagine") == 0
    listed = await admin(fake_discord, "words list")
    assert "`dragon`" in listed["content"]
    await admin(fake_discord, "words remove", {"word": "DRAGON"})
    await imagine(fake_discord, "a red dragon over hills")
    await wait_job_message(fake_discord, "a red dragon over hills")
    missing = await admin(fake_discord, "words remove", {"word": "dragon"})
    assert "not on the list" in missing["content"]


async def test_a_banned_word_in_the_custom_zoom_dialog_is_refused_without_a_submit(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    await admin(fake_discord, "words add", {"word": "kraken"})
    image = await upscaled(fake_discord, sim, "a calm sea")
    actions = sim.count("/submit/action")
    handle = await click(fake_discord, image, "Custom Zoom")
    assert handle.response_type == 9
    submit = await fake_discord.submit_modal(
        handle, {"prompt": "a calm sea with a kraken", "zoom": "1.5"}
    )
    text = await refusal(submit, "kraken")
    assert "does not allow" in text
    assert sim.count("/submit/action") == actions and sim.count("/submit/modal") == 0


async def test_the_proxys_own_banned_word_in_a_dialog_is_reported_and_refunded(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"daily_quota": 3})
    image = await upscaled(fake_discord, sim, "a quiet bay")  # 2 units
    handle = await click(fake_discord, image, "Custom Zoom")
    submit = await fake_discord.submit_modal(
        handle, {"prompt": "a quiet bay banned-word", "zoom": "1.5"}
    )
    text = await refusal(submit, "could not start")
    assert "banned-word" in text  # code 24 names the word
    assert sim.count("/submit/modal") == 1
    # The refused zoom was refunded: the third unit is still there.
    await imagine(fake_discord, "the last unit")
    await wait_job_message(fake_discord, "the last unit")
