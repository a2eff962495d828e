"""The bot end to end with its database on PostgreSQL: a job to its final image, twenty
simultaneous clicks against a quota of five, /healthz and /metrics (the same tests as on SQLite,
run again here), and /healthz while another process holds the write lock.

The restart tests (kill -9 mid-job, a submit interrupted) run on both engines in
tests/e2e/test_restart.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import bot.health
import tests.e2e.test_admin_quota as quota_tests
import tests.e2e.test_imagine as imagine_tests
import tests.e2e.test_metrics as metrics_tests
from bot.midjourney.simulator import Simulator
from storage.postgres import WRITE_LOCK_KEY
from tests.e2e.conftest import StartBot
from tests.fakes.discord import FakeDiscord


@pytest.fixture
def mjbot_pg(mjbot: StartBot, postgres_url: str) -> StartBot:
    async def start(simulator: Simulator | None = None, **overrides: Any) -> Any:
        return await mjbot(simulator, storage_url=postgres_url, **overrides)

    return start


async def test_imagine_to_final_image(
    fake_discord: FakeDiscord, sim: Simulator, mjbot_pg: StartBot
) -> None:
    await imagine_tests.test_imagine_to_final_image(fake_discord, sim, mjbot_pg)


async def test_twenty_concurrent_clicks_against_a_quota_of_five_submit_five(
    fake_discord: FakeDiscord, sim: Simulator, mjbot_pg: StartBot
) -> None:
    await quota_tests.test_twenty_concurrent_clicks_against_a_quota_of_five_submit_five(
        fake_discord, sim, mjbot_pg
    )


async def test_health_and_metrics_follow_a_job(
    fake_discord: FakeDiscord, sim: Simulator, mjbot_pg: StartBot, tmp_path: Path
) -> None:
    await metrics_tests.test_health_and_metrics_follow_a_job(fake_discord, sim, mjbot_pg, tmp_path)


async def test_healthz_says_when_the_database_cannot_be_written(
    fake_discord: FakeDiscord,
    sim: Simulator,
    mjbot_pg: StartBot,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.health, "DATABASE_CHECK_SECONDS", 0.5)
    port = metrics_tests.free_port()
    await mjbot_pg(metrics={"enabled": True, "port": port})
    other = await asyncpg.connect(postgres_url)  # another process, holding the write lock
    try:
        async with other.transaction():
            await other.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                health = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 503
        assert health.json()["database_writable"] is False
        assert health.json()["gateway_connected"] is True
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            again = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert again.status_code == 200 and again.json()["database_writable"] is True
    finally:
        await other.close()
