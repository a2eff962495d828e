"""One process of a sharded bot: it connects as its shards, and follows only its guilds' jobs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from bot.midjourney.simulator import Simulator
from storage import Repositories
from tests.e2e.harness import make_settings, start_bot
from tests.e2e.steps import finish, wait_job_message
from tests.fakes.discord import FakeDiscord, Guild, default_guild


def two_shards(fake: FakeDiscord) -> tuple[Guild, Guild]:
    """Guild "Zero" on shard 0 of 2 and guild "One" on shard 1 of 2."""
    zero = default_guild(fake.clock, "Zero", shard=(0, 2))
    one = default_guild(fake.clock, "One", shard=(1, 2))
    fake.use_guilds([zero, one])
    return zero, one


def sharded(settings: Settings, guilds: list[int], count: int, ids: list[int]) -> Settings:
    discord = settings.discord.model_copy(
        update={"guild_ids": guilds, "shard_count": count, "shard_ids": ids}
    )
    return settings.model_copy(update={"discord": discord})


async def test_a_process_runs_its_shards_and_only_their_jobs(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    zero, one = two_shards(fake_discord)
    db = tmp_path / "mjbot.sqlite3"
    async with await Repositories.open(db) as repos:
        made = {}
        for guild in (zero, one):
            interrupted = await repos.jobs.create_submitting(
                guild_id=guild.id,
                channel_id=guild.channels[0].id,
                requester_id=guild.members[0].user.id,
                kind="imagine",
                action="imagine",
                prompt=f"interrupted in {guild.name}",
            )
            running = await repos.jobs.create_submitting(
                guild_id=guild.id,
                channel_id=guild.channels[0].id,
                requester_id=guild.members[0].user.id,
                kind="imagine",
                action="imagine",
                prompt=f"running in {guild.name}",
            )
            await repos.jobs.mark_submitted(running.id, f"task-{guild.name}")
            made[guild.name] = (interrupted.id, running.id)

    settings = sharded(make_settings(fake_discord, sim, db), [zero.id, one.id], 2, [1])
    running = await start_bot(fake_discord, settings)
    try:
        assert fake_discord.gateway.connected_shards() == {(1, 2)}
        assert [g.id for g in running.bot.guilds] == [one.id]
        services = running.services
        # Only shard 1's jobs: its interrupted submit is settled, its running job followed;
        # shard 0's 'submitting' job may be mid-submit in the other process: left alone.
        jobs = services.job_repo
        assert (await jobs.get(made["One"][0])).state == "unknown"
        assert (await jobs.get(made["Zero"][0])).state == "submitting"
        followed = [t for tracker in services.proxies.trackers for t in tracker.followed_task_ids]
        assert followed == ["task-One"]
        assert await jobs.count_unfinished(services.scope) == {"submitted": 1}
        # Purges run once, in the process that has shard 0.
        assert services.scope.describe() == "shard 1 of 2" and not services.scope.runs_chores
        assert services.retention._task is None

        alice = one.members[0].user
        handle = await fake_discord.slash(
            "imagine",
            {"prompt": "a fox on shard one"},
            guild_id=one.id,
            channel_id=one.channels[0].id,
            user=alice,
        )
        await handle.wait_response()
        message = await wait_job_message(fake_discord, "a fox on shard one")
        final = await finish(fake_discord, sim, int(message["id"]))
        assert final["attachments"]
    finally:
        assert await running.stop() == 0


async def test_the_default_asks_discord_and_runs_every_shard(
    fake_discord: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """shard_count 0: discord.py's automatic sharding, at the configured gateway address."""
    zero, one = two_shards(fake_discord)
    fake_discord.recommended_shards = 2
    settings = make_settings(fake_discord, sim, tmp_path / "mjbot.sqlite3")
    settings = sharded(settings, [zero.id, one.id], 0, [])
    running = await start_bot(fake_discord, settings)
    try:
        assert fake_discord.gateway.connected_shards() == {(0, 2), (1, 2)}
        assert {g.id for g in running.bot.guilds} == {zero.id, one.id}
        assert running.services.scope.everything and running.services.scope.runs_chores
        assert running.services.retention._task is not None
        assert any(r.path == "/gateway/bot" for r in fake_discord.requests)
    finally:
        assert await running.stop() == 0


async def test_a_lost_shard_lock_stops_the_process(
    fake_discord: FakeDiscord,
    sim: Simulator,
    tmp_path: Path,
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On PostgreSQL the shards are held by one connection; if it drops, another process may
    claim them, so this one stops (exit 1) rather than serve them twice."""
    import asyncpg

    from storage.shard_lock import application_name

    zero, one = two_shards(fake_discord)
    settings = sharded(make_settings(fake_discord, sim, tmp_path / "x"), [zero.id, one.id], 2, [0])
    storage = settings.storage.model_copy(update={"url": postgres_url})
    running = await start_bot(fake_discord, settings.model_copy(update={"storage": storage}))
    assert fake_discord.gateway.connected_shards() == {(0, 2)}
    admin = await asyncpg.connect(postgres_url)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            application_name(),
        )
    finally:
        await admin.close()
    assert ended == 1
    assert await asyncio.wait_for(running.task, 30) == 1
    assert not fake_discord.gateway.connected_shards()
    assert "the PostgreSQL connection holding shard 0 of 2 was lost" in caplog.text
