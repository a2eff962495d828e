"""Two processes on one database: a change made through one's services is seen by the other's at
once (no per-process copy of shared state goes stale)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import MidjourneySettings, SecuritySettings, Settings, StorageSettings
from bot.errors import UserFacingError
from bot.proxy_endpoint import Endpoint
from bot.requester import Requester
from bot.runtime import Services, build_services

GUILD = 1_300_000_000_000 << 22
MEMBER = 77


@pytest.fixture(params=["sqlite", "postgresql"])
async def two(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Services, Services]]:
    """Two processes' services on one database (SQLite file, or PostgreSQL as shards share)."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    settings = Settings(
        midjourney=MidjourneySettings(base_url="http://127.0.0.1:9", api_key="k"),  # type: ignore[arg-type]
        storage=StorageSettings(url=url),
        security=SecuritySettings(secret_key=Fernet.generate_key().decode()),  # type: ignore[arg-type]
    )
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            services = await build_services(settings)
            stack.push_async_callback(services.stop)
            await services.proxies.load()
            made.append(services)
        yield made[0], made[1]


def member(guild_id: int = GUILD, user_id: int = MEMBER) -> Requester:
    return Requester(user_id=user_id, channel_id=5, guild_id=guild_id, locale="en-US")


async def test_a_servers_proxy_is_read_where_it_is_used(two: tuple[Services, Services]) -> None:
    first, second = two
    assert (await second.proxies.for_guild(GUILD)).ref is None  # the operator's default
    own = Endpoint("https://proxy.example", "/mj", "sk-own-key-123456", "bearer", "plus")
    record = await first.proxies.save(GUILD, own, actor_id=MEMBER)
    handle = await second.proxies.for_guild(GUILD)
    assert handle.ref == record.id and handle.base_url == "https://proxy.example"
    assert await second.proxies.current(GUILD) == record
    await first.proxies.clear(GUILD)
    assert (await second.proxies.for_guild(GUILD)).ref is None


async def test_bans_pauses_words_and_quotas_reach_the_other_process(
    two: tuple[Services, Services],
) -> None:
    first, second = two
    who = member()
    await second.gate.admit(who)
    await first.guilds.add_ban(GUILD, MEMBER, reason="spam", banned_by=1)
    with pytest.raises(UserFacingError):
        await second.gate.admit(who)
    await first.guilds.remove_ban(GUILD, MEMBER)
    await second.gate.admit(who)

    await first.guilds.set_paused(GUILD, True)
    with pytest.raises(UserFacingError):
        await second.gate.admit(who)
    await first.guilds.set_paused(GUILD, False)

    await first.guilds.add_banned_word(GUILD, "kraken")
    with pytest.raises(UserFacingError):
        await second.gate.check_words(who, "a KRAKEN at sea")

    await first.guilds.set_quota_override(GUILD, MEMBER, 2.0)
    policy = await second.gate.admit(who)
    assert (await second.gate.limits(who, policy)).user_quota == 2.0


async def test_a_callback_for_another_processes_task_is_ignored(
    two: tuple[Services, Services],
) -> None:
    """notifyHook: each process follows its own guilds' tasks; a callback for a task the
    other process follows wakes nothing here and raises nothing."""
    first, second = two
    job = await first.job_repo.create_submitting(
        guild_id=GUILD,
        channel_id=5,
        requester_id=MEMBER,
        kind="imagine",
        action="imagine",
        prompt="a fox",
    )
    job = await first.job_repo.mark_submitted(job.id, "task-of-first")
    await first.proxies.follow(job)
    for tracker in second.proxies.trackers:
        tracker._wake.clear()
    second.proxies.wake("task-of-first")
    assert not any(tracker._wake.is_set() for tracker in second.proxies.trackers)
    assert [t for tr in first.proxies.trackers for t in tr.followed_task_ids] == ["task-of-first"]
