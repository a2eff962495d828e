"""Banned words end to end: checked on every action's prompt, and not hidden by look-alikes."""

from __future__ import annotations

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import EPHEMERAL, button, imagine_grid, upscaled
from tests.e2e.test_admin import admin
from tests.fakes.discord import FakeDiscord


async def test_a_word_banned_after_the_grid_stops_its_buttons(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a red dragon over hills")
    await admin(fake_discord, "words add", {"word": "dragon"})
    submits = sim.submits
    for name in ("🔄", "V1", "U2"):
        current = fake_discord.messages[int(grid["id"])]
        handle = await fake_discord.click(int(grid["id"]), button(current, name)["custom_id"])
        await handle.wait_response()
        [notice] = await handle.wait_followups(1)
        assert notice["flags"] & EPHEMERAL
        assert "dragon" in notice["content"] and "does not allow" in notice["content"]
    assert sim.submits == submits  # nothing was sent to the proxy


async def test_look_alike_letters_fillers_and_plurals_are_refused(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    await admin(fake_discord, "words add", {"word": "dragon"})
    for prompt in ("a red drаgоn", "a red drag\u3164on", "two red dragons"):
        handle = await fake_discord.slash("imagine", {"prompt": prompt})
        await handle.wait_response()
        answer = await handle.wait_original(lambda m: "does not allow" in m.get("content", ""))
        assert "**dragon**" in answer["content"]
    assert sim.submits == 0


async def test_a_dialog_button_is_refused_before_its_dialog_opens(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    upscale = await upscaled(fake_discord, sim, "a blue dragon at sea")
    await admin(fake_discord, "words add", {"word": "dragon"})
    submits = sim.submits
    for name in ("Custom Zoom", "Vary (Region)", "Zoom Out 2x", "⬅️"):
        current = fake_discord.messages[int(upscale["id"])]
        handle = await fake_discord.click(int(upscale["id"]), button(current, name)["custom_id"])
        await handle.wait_response()
        assert handle.modal is None  # no dialog to fill in only to be refused afterwards
        notice = await fake_discord.wait_for(
            lambda h=handle: (
                next(iter(h.followups), None)
                or (h.original if h.original and h.original.get("flags", 0) & EPHEMERAL else None)
            )
        )
        assert "dragon" in notice["content"] and "does not allow" in notice["content"]
    assert sim.submits == submits
