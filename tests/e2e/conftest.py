"""End-to-end fixtures: the simulator as fake proxy and a started mjbot against the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.harness import KEY, RunningBot, make_settings, start_bot
from tests.fakes.discord import FakeDiscord

StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For the tests that run on both engines: a SQLite file's path, or a PostgreSQL URL."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "mjbot.sqlite3")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator("plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def mjbot(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> AsyncIterator[StartBot]:
    """Start mjbot (again, for restart tests) with settings overrides; stopped at teardown."""
    started: list[RunningBot] = []

    async def start(simulator: Simulator | None = None, **overrides: Any) -> RunningBot:
        settings = make_settings(
            fake_discord, simulator or sim, tmp_path / "mjbot.sqlite3", **overrides
        )
        running = await start_bot(fake_discord, settings)
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            assert await running.stop() == 0
