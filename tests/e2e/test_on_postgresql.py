"""The bot end to end with its database on PostgreSQL: a job to its final image, and twenty
simultaneous clicks against a quota of five (the same tests as on SQLite, run again here).

The restart tests (kill -9 mid-job, a submit interrupted) run on both engines in
tests/e2e/test_restart.py."""

from __future__ import annotations

from typing import Any

import pytest

import tests.e2e.test_admin_quota as quota_tests
import tests.e2e.test_imagine as imagine_tests
from bot.midjourney.simulator import Simulator
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
