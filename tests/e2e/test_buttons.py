"""Result buttons end to end: U/V/🔄, HD upscales, used marks, idempotent and double clicks."""

from __future__ import annotations

import asyncio

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import (
    EPHEMERAL,
    button,
    click,
    finish,
    imagine_grid,
    labels,
    reply_to,
)
from tests.fakes.discord import FakeDiscord


def action_bodies(sim: Simulator) -> list[dict[str, object]]:
    return [r.json for r in sim.requests if r.path.endswith("/submit/action")]


async def test_upscale_then_hd_upscale(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a red fox")
    handle = await click(fake_discord, grid, "U2")
    assert handle.response_type == 6  # acknowledged without a message of its own

    upscale = await reply_to(fake_discord, int(grid["id"]))
    assert "a red fox" in upscale["content"]
    [body] = action_bodies(sim)
    assert str(body["customId"]).startswith("MJ::JOB::upsample::2::")
    # The used button is marked on the parent.
    await fake_discord.wait_for(
        lambda: button(fake_discord.messages[int(grid["id"])], "U2")["style"] == 1
    )
    assert button(fake_discord.messages[int(grid["id"])], "U1")["style"] == 2

    final = await finish(fake_discord, sim, int(upscale["id"]))
    names = labels(final)
    assert "Upscale (Subtle)" in names and "Vary (Region)" in names and "Custom Zoom" in names
    assert "❤️" not in names  # BOOKMARK is rejected by every backend: hidden

    await click(fake_discord, final, "Upscale (Subtle)")
    hd = await reply_to(fake_discord, int(final["id"]))
    await finish(fake_discord, sim, int(hd["id"]))
    assert str(action_bodies(sim)[-1]["customId"]).startswith("MJ::JOB::upsample_v6r1_2x_subtle::")


async def test_an_upscale_is_submitted_once_however_often_clicked(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a lighthouse")
    first, second = await asyncio.gather(
        click(fake_discord, grid, "U1"),
        click(fake_discord, grid, "U1", user=fake_discord.users["bob"]),
    )
    upscale = await reply_to(fake_discord, int(grid["id"]))
    # The winner marks U1 as used once its job message is recorded.
    await fake_discord.wait_for(
        lambda: button(fake_discord.messages[int(grid["id"])], "U1")["style"] == 1
    )
    # The other click is told, privately, that the upscale is already on its way.
    # (The winner's followup is the upscale's own job message, public.)
    notices = await fake_discord.wait_for(
        lambda: [m for h in (first, second) for m in h.followups if m["flags"] & EPHEMERAL]
    )
    assert len(notices) == 1
    later = await click(fake_discord, grid, "U1")
    [notice] = await later.wait_followups(1)
    assert notice["flags"] & EPHEMERAL
    assert upscale["id"] in notice["content"]
    assert len(action_bodies(sim)) == 1
    assert {first.response_type, second.response_type} == {6}


async def test_double_click_on_a_variation_is_debounced(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a castle")
    await asyncio.gather(click(fake_discord, grid, "V3"), click(fake_discord, grid, "V3"))
    await reply_to(fake_discord, int(grid["id"]))
    await fake_discord.wait_for(
        lambda: any(
            f.get("content") and "just clicked" in f["content"]
            for f in fake_discord.messages.values()
        )
    )
    assert len(action_bodies(sim)) == 1
    # Another member may still ask for their own variations of the same image.
    await click(fake_discord, grid, "V3", user=fake_discord.users["bob"])
    await fake_discord.wait_for(lambda: len(action_bodies(sim)) == 2)


async def test_reroll_and_variation_give_new_grids(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a forest")
    await click(fake_discord, grid, "🔄")
    reroll = await reply_to(fake_discord, int(grid["id"]))
    final = await finish(fake_discord, sim, int(reroll["id"]))
    assert labels(final)[:4] == ["U1", "U2", "U3", "U4"]
    await click(fake_discord, final, "V1")
    variation = await reply_to(fake_discord, int(final["id"]))
    await finish(fake_discord, sim, int(variation["id"]))
    ids = [str(b["customId"]) for b in action_bodies(sim)]
    assert ids[0].startswith("MJ::JOB::reroll::0::") and ids[1].startswith(
        "MJ::JOB::variation::1::"
    )
