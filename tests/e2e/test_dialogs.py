"""Dialogs end to end: Custom Zoom and Vary Region modals, and dialogs the proxy asks for later."""

from __future__ import annotations

import base64
import io

from PIL import Image

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import click, finish, imagine_grid, labels, reply_to, upscaled
from tests.fakes.discord import FakeDiscord


def bodies(sim: Simulator, suffix: str) -> list[dict[str, object]]:
    return [r.json for r in sim.requests if r.path.endswith(suffix)]


async def test_custom_zoom_through_its_modal(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    image = await upscaled(fake_discord, sim, "a quiet harbour --ar 3:2")
    handle = await click(fake_discord, image, "Custom Zoom")
    assert handle.response_type == 9  # the modal is the first answer to the click
    assert bodies(sim, "/submit/action") == bodies(sim, "/submit/action")[:1]  # U1 only so far

    submit = await fake_discord.submit_modal(
        handle, {"prompt": "a quiet harbour at dusk", "zoom": "1.5"}
    )
    await submit.wait_response()
    child = await reply_to(fake_discord, int(image["id"]))
    [*_, zoom_action] = bodies(sim, "/submit/action")
    assert str(zoom_action["customId"]).startswith("MJ::CustomZoom::")
    [modal] = bodies(sim, "/submit/modal")
    assert modal["prompt"] == "a quiet harbour at dusk --zoom 1.5"
    final = await finish(fake_discord, sim, int(child["id"]))
    assert labels(final)[:4] == ["U1", "U2", "U3", "U4"]


async def test_custom_zoom_out_of_range_is_refused_without_a_submit(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    image = await upscaled(fake_discord, sim, "a mountain")
    before = len(bodies(sim, "/submit/action"))
    handle = await click(fake_discord, image, "Custom Zoom")
    submit = await fake_discord.submit_modal(handle, {"prompt": "a mountain", "zoom": "3"})
    response = await submit.wait_response()
    assert submit.ephemeral and "at most 2" in response["data"]["content"]
    assert len(bodies(sim, "/submit/action")) == before
    assert not bodies(sim, "/submit/modal")


async def test_vary_region_sends_a_mask_of_the_chosen_region(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    image = await upscaled(fake_discord, sim, "a cat on a sofa --ar 2:1")
    handle = await click(fake_discord, image, "Vary (Region)")
    assert handle.response_type == 9
    options = [
        o["label"]
        for row in handle.modal["components"]
        for o in (row.get("component") or {}).get("options", [])
    ]
    assert "Centre" in options and not any(o.startswith("dialog.") for o in options)
    submit = await fake_discord.submit_modal(
        handle, {"region": ["left"], "prompt": "a dog on a sofa"}
    )
    await submit.wait_response()
    child = await reply_to(fake_discord, int(image["id"]))
    [modal] = bodies(sim, "/submit/modal")
    mask_url = str(modal["maskBase64"])
    assert mask_url.startswith("data:image/png;base64,")
    mask = Image.open(io.BytesIO(base64.b64decode(mask_url.split(",", 1)[1]))).convert("L")
    width, height = mask.size
    assert width == 2 * height  # follows the prompt's --ar 2:1
    assert mask.getpixel((width // 4, height // 2)) == 255  # left half white
    assert mask.getpixel((3 * width // 4, height // 2)) == 0  # right half black
    assert modal["prompt"] == "a dog on a sofa"
    await finish(fake_discord, sim, int(child["id"]))


async def test_remix_dialog_asked_after_the_click(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    remix = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10.0, remix=True)
    await remix.start()
    try:
        await mjbot(remix)
        grid = await imagine_grid(fake_discord, remix, "a bridge")
        await click(fake_discord, grid, "V2")
        child = await reply_to(fake_discord, int(grid["id"]))
        waiting = await fake_discord.wait_for(
            lambda: "Open dialog" in labels(m := fake_discord.messages[int(child["id"])]) and m
        )
        other = await click(fake_discord, waiting, "Open dialog", user=fake_discord.users["bob"])
        assert other.ephemeral and other.response_type == 4  # not bob's job
        handle = await click(fake_discord, waiting, "Open dialog")
        assert handle.response_type == 9
        submit = await fake_discord.submit_modal(handle, {"prompt": "a bridge in fog"})
        await submit.wait_response()
        # The message leaves its "waiting for input" state once the dialog was sent.
        await fake_discord.wait_for(
            lambda: "Open dialog" not in labels(fake_discord.messages[int(child["id"])])
        )
        assert bodies(remix, "/submit/modal")[0]["prompt"] == "a bridge in fog"
        final = await finish(fake_discord, remix, int(child["id"]))
        assert labels(final)[:4] == ["U1", "U2", "U3", "U4"]
    finally:
        await remix.stop()


async def test_new_api_window_confirm_is_a_dialog(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    relay = Simulator("new-api", api_key=KEY, clock=ManualClock(), seconds_per_job=10.0, remix=True)
    await relay.start()
    try:
        await mjbot(relay)
        grid = await imagine_grid(fake_discord, relay, "a lantern")
        await click(fake_discord, grid, "V1")
        child = await reply_to(fake_discord, int(grid["id"]))
        await fake_discord.wait_for(
            lambda: "Open dialog" in labels(fake_discord.messages[int(child["id"])])
        )
    finally:
        await relay.stop()
