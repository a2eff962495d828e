"""Fixtures: a simulator on loopback with a manual clock, and clients that never really sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.midjourney.client import AuthStyle, MidjourneyClient
from bot.midjourney.simulator import ManualClock, Mode, Simulator

KEY = "sk-test-key-123"
STYLE_FOR: dict[str, AuthStyle] = {"plus": "mj-api-secret", "trueai": "raw", "new-api": "bearer"}

MakeSim = Callable[..., Awaitable[Simulator]]
MakeClient = Callable[..., MidjourneyClient]


class Sleeps:
    """Stands in for asyncio.sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    started: list[Simulator] = []

    async def make(mode: Mode = "plus", **options: Any) -> Simulator:
        options.setdefault("api_key", KEY)
        options.setdefault("clock", ManualClock())
        sim = Simulator(mode, **options)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[MakeClient]:
    clients: list[MidjourneyClient] = []

    def make(sim: Simulator, **options: Any) -> MidjourneyClient:
        options.setdefault("api_key", KEY)
        options.setdefault("auth_style", STYLE_FOR[sim.mode])
        options.setdefault("path_prefix", sim.prefix)
        options.setdefault("base_url", sim.base_url)
        options.setdefault("sleep", sleeps)
        options.setdefault("timeout", 5.0)
        client = MidjourneyClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
