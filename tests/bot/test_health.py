"""/healthz's verdict over real HTTP, with the facts it reads under the test's control."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bot.config import MetricsSettings
from bot.health import HealthServer, HealthSources
from bot.metrics import Metrics


class Facts:
    def __init__(self) -> None:
        self.gateway = True
        self.writable = True
        self.followed = 0

    async def database_writable(self) -> bool:
        return self.writable

    async def unfinished(self) -> dict[str, int]:
        return {"in_progress": self.followed}


Get = Callable[[str], Any]


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Facts, Metrics, Get]]:
    facts, metrics = Facts(), Metrics()
    server = HealthServer(
        MetricsSettings(enabled=True, host="127.0.0.1", port=0),
        HealthSources(
            gateway_connected=lambda: facts.gateway,
            database_writable=facts.database_writable,
            unfinished_jobs=facts.unfinished,
            followed_tasks=lambda: facts.followed,
            poll_interval=3.0,
        ),
        metrics,
    )
    await server.start()
    request.node.port = server.port
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=5
    ) as http:
        yield facts, metrics, http.get
    await server.stop()


async def test_healthy(served: tuple[Facts, Metrics, Get]) -> None:
    _, _, get = served
    answer = await get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


async def test_gateway_down_is_unhealthy(served: tuple[Facts, Metrics, Get]) -> None:
    facts, _, get = served
    facts.gateway = False
    answer = await get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["gateway_connected"] is False and answer.json()["status"] == "unhealthy"


async def test_a_stale_poll_matters_only_while_tasks_are_followed(
    served: tuple[Facts, Metrics, Get],
) -> None:
    facts, metrics, get = served
    metrics.started -= 600  # started 10 minutes ago, never an answered poll
    idle = await get("/healthz")
    assert idle.status_code == 200  # nothing to poll: nothing stale
    facts.followed = 2
    stale = await get("/healthz")
    assert stale.status_code == 503
    body = stale.json()
    assert body["last_successful_poll_age_seconds"] >= 600
    assert body["poll_stale_after_seconds"] == 120.0 and body["followed_tasks"] == 2
    metrics.poll_cycle(0.1, answered=True, followed=2)
    assert (await get("/healthz")).status_code == 200
    scrape = (await get("/metrics")).text
    assert 'mjbot_jobs{state="in_progress"} 2.0' in scrape
    assert "mjbot_followed_tasks 2.0" in scrape
    assert "mjbot_database_writable 1.0" in scrape


async def _healthcheck(port: int) -> tuple[int, str]:
    """The image's HEALTHCHECK command, `python -m bot.healthcheck`, as Docker runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        env={**os.environ, "MJBOT_METRICS__PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_docker_healthcheck_follows_healthz(
    served: tuple[Facts, Metrics, Get], request: pytest.FixtureRequest
) -> None:
    facts, _, _ = served
    port = request.node.port
    code, said = await _healthcheck(port)
    assert code == 0 and '"status": "ok"' in said
    facts.writable = False
    code, said = await _healthcheck(port)
    assert code == 1 and '"database_writable": false' in said


async def test_the_docker_healthcheck_without_an_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, said = await _healthcheck(port)
    assert code == 1 and "is [metrics] enabled?" in said
