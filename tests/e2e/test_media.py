"""Media as real proxies give it: addresses on loopback, redirects into private networks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import (
    JOB_SECONDS,
    click,
    imagine_grid,
    labels,
    reply_to,
    upscaled,
    wait_final,
    wait_job_message,
)
from tests.fakes.discord import FakeDiscord

DONE = "✅ Done"


@dataclass
class Internal:
    """A service on this machine that only the bot's host can reach (an admin page, metadata)."""

    base: str = ""
    requests: list[str] = field(default_factory=list)


@pytest.fixture
async def internal() -> AsyncIterator[Internal]:
    from tests.bot.media.helpers import PNG

    state = Internal()

    async def secret(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def quirky() -> AsyncIterator[Simulator]:
    proxy = Simulator(
        "plus",
        api_key=KEY,
        clock=ManualClock(),
        seconds_per_job=10.0,
        quirks=["localhost-media"],
    )
    await proxy.start()
    yield proxy
    await proxy.stop()


async def finished(fake: FakeDiscord, sim: Simulator, prompt: str) -> dict[str, Any]:
    handle = await fake.slash("imagine", {"prompt": prompt})
    await handle.wait_response()
    message = await wait_job_message(fake, prompt)
    sim.advance(JOB_SECONDS)
    return await fake.wait_for(
        lambda: DONE in (m := fake.messages[int(message["id"])])["content"] and m
    )


async def test_a_redirect_into_the_private_network_is_not_followed(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, internal: Internal
) -> None:
    await mjbot()
    sim.redirect_media(f"{internal.base}/latest/meta-data/secret.png")
    final = await finished(fake_discord, sim, "a map of the office network")
    assert not final.get("attachments")  # nothing from inside was posted
    assert internal.requests == []
    assert "/sim/images/" in final["content"]  # the member still gets the proxy's link
    assert any("/sim/images/" in r.path for r in sim.requests)  # the bot did try


async def test_loopback_media_addresses_are_fetched_from_the_proxy(
    fake_discord: FakeDiscord,
    quirky: Simulator,
    mjbot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # new-api with its ServerAddress left at http://localhost:3000.
    await mjbot(quirky)
    with caplog.at_level(logging.WARNING, logger="bot.media.addresses"):
        grid = await imagine_grid(fake_discord, quirky, "a harbour at dawn")
        assert grid["attachments"]
        await click(fake_discord, grid, "U2")
        upscale = await reply_to(fake_discord, int(grid["id"]))
        quirky.advance(JOB_SECONDS)
        assert (await wait_final(fake_discord, int(upscale["id"])))["attachments"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.media.addresses"]
    assert len(warnings) == 1
    assert "localhost:3000" in warnings[0] and "ServerAddress" in warnings[0]


# ---- what a finished task carries: imageUrls, nothing, videos ---------------------------


async def start_proxy(*quirks: str, mode: str = "plus") -> Simulator:
    proxy = Simulator(
        mode,  # type: ignore[arg-type]
        api_key=KEY,
        prefix="/mj",
        clock=ManualClock(),
        seconds_per_job=10.0,
        quirks=quirks,
    )
    await proxy.start()
    return proxy


@pytest.fixture
async def proxies() -> AsyncIterator[list[Simulator]]:
    started: list[Simulator] = []
    yield started
    for proxy in started:
        await proxy.stop()


def attached(fake: FakeDiscord, message: dict[str, Any]) -> bytes:
    [attachment] = message["attachments"]
    return fake.store.files[int(attachment["id"])].data


@pytest.mark.parametrize("mode", ["plus", "trueai"])
async def test_an_empty_image_url_with_the_grid_in_image_urls(
    fake_discord: FakeDiscord, mjbot: StartBot, proxies: list[Simulator], mode: str
) -> None:
    proxy = await start_proxy("empty-image-url", mode=mode)
    proxies.append(proxy)
    await mjbot(proxy)
    grid = await imagine_grid(fake_discord, proxy, "a lantern in fog")
    assert attached(fake_discord, grid) == panel_or_grid(proxy, grid, None)
    assert "no image" not in grid["content"] and "separate" not in grid["content"]


def panel_or_grid(proxy: Simulator, message: dict[str, Any], panel: int | None) -> bytes:
    from bot.midjourney.simulator.media import panel_png

    [task] = [t for t in proxy.tasks.values() if t.prompt in message["content"]]
    return panel_png(task, panel) if panel else proxy._render(task, None)


async def test_four_separate_images_show_the_first_and_say_how_many(
    fake_discord: FakeDiscord, mjbot: StartBot, proxies: list[Simulator]
) -> None:
    proxy = await start_proxy("split-images")
    proxies.append(proxy)
    await mjbot(proxy)
    grid = await imagine_grid(fake_discord, proxy, "four foxes")
    assert attached(fake_discord, grid) == panel_or_grid(proxy, grid, 1)
    assert "The image service sent 4 separate images; this is the first." in grid["content"]
    assert labels(grid)[:4] == ["U1", "U2", "U3", "U4"]


async def test_a_success_without_any_image_says_so(
    fake_discord: FakeDiscord, mjbot: StartBot, proxies: list[Simulator]
) -> None:
    proxy = await start_proxy("no-image")
    proxies.append(proxy)
    await mjbot(proxy)
    final = await finished(fake_discord, proxy, "an empty frame")
    assert "reported the job as done but sent no image" in final["content"]
    assert not final.get("attachments")
    assert labels(final)[:4] == ["U1", "U2", "U3", "U4"]  # the buttons still work


async def animate(
    fake: FakeDiscord, proxy: Simulator, prompt: str, button: str = "Animate (High motion)"
) -> dict[str, Any]:
    upscale = await upscaled(fake, proxy, prompt)
    await click(fake, upscale, button)
    video = await reply_to(fake, int(upscale["id"]))
    assert "Animate (High motion)" in video["content"] or "Animate (Low motion)" in video["content"]
    proxy.advance(JOB_SECONDS)
    return await fake.wait_for(
        lambda: DONE in (m := fake.messages[int(video["id"])])["content"] and m
    )


async def test_animate_on_an_upscale_uploads_an_mp4_with_the_video_buttons(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    video = await animate(fake_discord, sim, "a paper boat on a river")
    [attachment] = video["attachments"]
    assert attachment["filename"].endswith(".mp4")
    data = attached(fake_discord, video)
    assert data[4:8] == b"ftyp"
    assert "The image service made 4 videos; this is the first." in video["content"]
    assert labels(video) == [
        "U1",
        "U2",
        "U3",
        "U4",
        "🔄",
        "Extend (High motion)",
        "Extend (Low motion)",
        "Send to DM",
        "🗑️",
    ]
    # A video's own buttons lead to videos too.
    await click(fake_discord, video, "U2")
    upscale = await reply_to(fake_discord, int(video["id"]))
    final = await wait_final_after(fake_discord, sim, upscale)
    assert final["attachments"][0]["filename"].endswith(".mp4")
    assert "videos" not in final["content"]  # one video: nothing to count
    assert labels(final) == [
        "🔄",
        "Extend (High motion)",
        "Extend (Low motion)",
        "Send to DM",
        "🗑️",
    ]


async def wait_final_after(
    fake: FakeDiscord, sim: Simulator, message: dict[str, Any]
) -> dict[str, Any]:
    sim.advance(JOB_SECONDS)
    return await wait_final(fake, int(message["id"]))


async def test_a_video_only_in_video_urls(
    fake_discord: FakeDiscord, mjbot: StartBot, proxies: list[Simulator]
) -> None:
    proxy = await start_proxy("video-list-only", mode="trueai")
    proxies.append(proxy)
    await mjbot(proxy)
    video = await animate(fake_discord, proxy, "a kite", button="Animate (Low motion)")
    assert video["attachments"][0]["filename"].endswith(".mp4")
    assert attached(fake_discord, video)[4:8] == b"ftyp"


async def test_a_video_over_the_upload_limit_is_linked_and_the_link_said_to_expire(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    fake_discord.attachment_size_limit = 12_000  # the simulator's videos are about 30 kB
    await mjbot()
    video = await animate(fake_discord, sim, "a long train at night")
    assert not video.get("attachments")
    assert "🎞️ Video: http://" in video["content"] and ".mp4" in video["content"]
    assert "the link expires" in video["content"]
    assert "Extend (High motion)" in labels(video)


async def test_a_cut_image_is_not_rehosted_as_a_broken_picture(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    sim.media_cut = True  # a proxy cache or CDN that serves part of the file
    final = await finished(fake_discord, sim, "a torn photograph")
    assert not final.get("attachments")
    assert "Image: http://" in final["content"]  # the proxy's own link instead
