"""The same member flow against each backend family the bot supports (auth, prefix, quirks)."""

from __future__ import annotations

import pytest

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import click, finish, imagine_grid, labels, reply_to
from tests.fakes.discord import FakeDiscord


@pytest.mark.parametrize(
    ("mode", "prefix"), [("plus", "/mj"), ("trueai", "/mj-relax/mj"), ("new-api", "/v1/mj")]
)
async def test_imagine_then_upscale_on_every_backend(
    fake_discord: FakeDiscord, mjbot: StartBot, mode: str, prefix: str
) -> None:
    proxy = Simulator(mode, api_key=KEY, prefix=prefix, clock=ManualClock(), seconds_per_job=10.0)  # type: ignore[arg-type]
    await proxy.start()
    try:
        await mjbot(proxy)
        grid = await imagine_grid(fake_discord, proxy, f"a kite over dunes ({mode})")
        assert labels(grid)[:4] == ["U1", "U2", "U3", "U4"]
        await click(fake_discord, grid, "U4")
        upscale = await reply_to(fake_discord, int(grid["id"]))
        final = await finish(fake_discord, proxy, int(upscale["id"]))
        names = labels(final)
        assert "Vary (Region)" in names and "Custom Zoom" in names
        assert "❤️" not in names
        assert all(r.path.startswith(prefix) for r in proxy.requests if "/sim/" not in r.path)
    finally:
        await proxy.stop()
