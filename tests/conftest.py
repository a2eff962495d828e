"""Shared pytest fixtures: a wire-level fake Discord per test, a PostgreSQL server per session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.discord import FakeDiscord, assert_no_heartbeat_threads, patch_discord
from tests.support.postgres import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, started on first use, stopped at the end.

    Without PostgreSQL binaries the tests that need it are skipped, except on CI (CI set),
    where they fail: CI must not pass by skipping them.
    """
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The `storage.url` of a new, empty PostgreSQL database of this test's own."""
    return postgres_server.dsn(postgres_server.new_database())


@pytest.fixture
async def fake_discord(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it.

    Teardown fails the test if the bot broke one of Discord's limits, logged an error on the
    ``discord`` logger, or left a heartbeat thread or an asyncio task running (after 1 s of
    grace; discord.py's View timeout tasks are cancelled, not reported). A test that provokes
    a violation or an error on purpose clears it with ``fake.take_violations()`` /
    ``fake.errors.take()``.

    End-to-end tests (under tests/e2e) run against Discord's REST rate limits, and any 429 fails
    them (take provoked ones with ``fake.take_rate_limited()``); mark a test
    ``@pytest.mark.discord_unlimited`` to opt out.
    """
    limited = "e2e" in request.path.parts
    limited = limited and request.node.get_closest_marker("discord_unlimited") is None
    fake = FakeDiscord(rate_limits=limited)
    before = asyncio.all_tasks()
    await fake.start()
    try:
        with patch_discord(fake):
            yield fake
    finally:
        await fake.stop()
    assert_no_heartbeat_threads()
    current = asyncio.current_task()
    pending = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
    for task in [t for t in pending if _is_view_timeout(t)]:
        # discord.py never stops a View's timeout task on Client.close(); not the bot's fault.
        task.cancel()
        pending.discard(task)
    if pending:
        # discord.py's own short-lived tasks (e.g. the ready delay) may still be finishing.
        _, pending = await asyncio.wait(pending, timeout=1.0)
    assert not pending, f"tasks still running after the test: {pending}"
    fake.assert_clean()


def _is_view_timeout(task: asyncio.Task[object]) -> bool:
    return "timeout_task_impl" in getattr(task.get_coro(), "__qualname__", "")


def pytest_configure(config: pytest.Config) -> None:
    """The caller's MJBOT_* variables must not reach the tests' settings or spawned bots: the
    environment wins over a test's config file, so an exported token would replace the fake's."""
    for name in [n for n in os.environ if n.upper().startswith("MJBOT_")]:
        del os.environ[name]
