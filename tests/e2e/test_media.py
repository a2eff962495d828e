"""Media as real proxies give it: addresses on loopback, redirects into private networks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import JOB_SECONDS, click, imagine_grid, reply_to, wait_final, wait_job_message
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


async def finished(fake: FakeDiscord, sim: Simulator, prompt: str) -> dict[str, object]:
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
