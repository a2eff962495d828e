"""UsageRepository: atomic check-and-charge, refunds, usage windows and statistics."""

from __future__ import annotations

import asyncio
import math

import pytest

from storage import ChargeResult, NewJob, Repositories
from tests.storage.support import T0, FakeClock, new_job


async def charge(
    repos: Repositories,
    user_id: int = 10,
    units: float = 1.0,
    job_id: int | None = None,
    *,
    guild_id: int = 1,
    action: str = "imagine",
    user_limit: float | None = None,
    guild_cap: float | None = None,
    since: float = T0,
    max_user_in_flight: int | None = None,
    max_guild_in_flight: int | None = None,
) -> ChargeResult:
    return await repos.usage.charge_if_allowed(
        guild_id,
        user_id,
        job_id,
        action,
        units,
        user_limit=user_limit,
        guild_cap=guild_cap,
        since=since,
        max_user_in_flight=max_user_in_flight,
        max_guild_in_flight=max_guild_in_flight,
    )


async def test_charge_records_usage(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    result = await charge(repos, units=2, job_id=job.id, user_limit=5)
    assert result == ChargeResult(True, None, 2.0, 5.0)
    charged = await repos.jobs.get(job.id)
    assert charged is not None and (charged.units, charged.charged_at) == (2.0, T0)
    assert await repos.usage.usage_since(1, 10, T0) == 2.0
    assert await repos.usage.usage_since(1, 11, T0) == 0.0
    assert await repos.usage.usage_since(2, 10, T0) == 0.0
    assert await repos.usage.guild_usage_since(1, T0) == 2.0
    assert await repos.usage.usage_since(1, 10, T0 + 1) == 0.0
    assert (await charge(repos)).limit == math.inf


async def test_user_quota(repos: Repositories) -> None:
    assert (await charge(repos, units=4, user_limit=5)).allowed
    refused = await charge(repos, units=2, user_limit=5)
    assert refused == ChargeResult(False, "user_quota", 4.0, 5.0)
    assert (await charge(repos, units=1, user_limit=5)).allowed
    assert (await charge(repos, units=0, user_limit=5)).allowed  # free actions stay free
    assert not (await charge(repos, units=1, user_limit=5)).allowed
    assert await repos.usage.usage_since(1, 10, T0) == 5.0


async def test_quota_window_moves(repos: Repositories, clock: FakeClock) -> None:
    assert (await charge(repos, units=5, user_limit=5)).allowed
    clock.advance(86_400)
    assert (await charge(repos, units=5, user_limit=5, since=T0 + 86_400)).allowed


async def test_zero_means_no_limit_as_in_the_configuration(repos: Repositories) -> None:
    for _ in range(3):
        assert (
            await charge(
                repos,
                units=10,
                user_limit=0,
                guild_cap=0,
                max_user_in_flight=0,
                max_guild_in_flight=0,
            )
        ).allowed


async def test_guild_cap(repos: Repositories) -> None:
    assert (await charge(repos, user_id=10, units=3, guild_cap=4)).allowed
    refused = await charge(repos, user_id=11, units=2, user_limit=10, guild_cap=4)
    assert refused == ChargeResult(False, "guild_cap", 3.0, 4.0)
    other_guild = await charge(repos, guild_id=2, user_id=11, units=2, guild_cap=4)
    assert other_guild.allowed


async def test_in_flight_limits_count_charged_unfinished_jobs(repos: Repositories) -> None:
    first = await new_job(repos, requester_id=10)
    assert (
        await charge(repos, job_id=first.id, max_user_in_flight=1)
    ).allowed  # itself not counted
    second = await new_job(repos, requester_id=10)
    refused = await charge(repos, job_id=second.id, max_user_in_flight=1)
    assert refused == ChargeResult(False, "user_in_flight", 1.0, 1.0)
    assert (await repos.jobs.get(second.id)).charged_at is None  # type: ignore[union-attr]
    other = await new_job(repos, requester_id=11)
    assert not (await charge(repos, user_id=11, job_id=other.id, max_guild_in_flight=1)).allowed
    assert (await charge(repos, user_id=11, job_id=other.id, max_user_in_flight=1)).allowed
    await repos.jobs.complete(first.id, state="success")
    assert (
        await charge(repos, job_id=second.id, max_user_in_flight=1, max_guild_in_flight=2)
    ).allowed


async def test_refund_gives_units_back_once(repos: Repositories) -> None:
    job = await new_job(repos)
    await charge(repos, units=3, job_id=job.id, user_limit=3)
    assert not (await charge(repos, units=1, user_limit=3)).allowed
    assert await repos.usage.refund(job.id) == 3.0
    assert await repos.usage.refund(job.id) == 0.0
    assert await repos.usage.usage_since(1, 10, T0) == 0.0
    assert (await charge(repos, units=3, user_limit=3)).allowed


async def test_burst_of_20_against_quota_5_allows_exactly_5(repos: Repositories) -> None:
    jobs = [await new_job(repos) for _ in range(20)]
    results = await asyncio.gather(
        *(charge(repos, job_id=j.id, user_limit=5, max_user_in_flight=10) for j in jobs)
    )
    assert sum(r.allowed for r in results) == 5
    assert {r.reason for r in results if not r.allowed} == {"user_quota"}
    assert await repos.usage.usage_since(1, 10, T0) == 5.0


async def test_burst_across_two_connections_allows_exactly_5(
    database_url: str, clock: FakeClock
) -> None:
    # Two Database objects on one database behave like two processes (two connection pools on
    # PostgreSQL): SQLite's write lock, or PostgreSQL's advisory write lock, decides.
    async with (
        await Repositories.open(database_url, clock=clock) as a,
        await Repositories.open(database_url, clock=clock) as b,
    ):
        results = await asyncio.gather(*(charge(repo, user_limit=5) for repo in [a, b] * 10))
        assert sum(r.allowed for r in results) == 5
        assert await a.usage.usage_since(1, 10, T0) == 5.0


async def test_reserve_job_creates_and_charges_atomically(repos: Repositories) -> None:
    new = NewJob(1, 100, 10, "imagine", "imagine", "a red fox")
    reservation = await repos.usage.reserve_job(
        new,
        units=2,
        user_quota=3,
        guild_cap=None,
        since=T0,
        max_user_in_flight=None,
        max_guild_in_flight=None,
    )
    assert reservation.allowed and reservation.job is not None
    assert (reservation.job.state, reservation.job.units, reservation.job.charged_at) == (
        "submitting",
        2.0,
        T0,
    )
    assert (reservation.used, reservation.limit) == (2.0, 3.0)
    refused = await repos.usage.reserve_job(
        new,
        units=2,
        user_quota=3,
        guild_cap=None,
        since=T0,
        max_user_in_flight=None,
        max_guild_in_flight=None,
    )
    assert (refused.allowed, refused.reason, refused.used, refused.limit) == (
        False,
        "user_quota",
        2.0,
        3.0,
    )
    assert len(await repos.jobs.unfinished()) == 1
    with pytest.raises(ValueError, match="guild"):
        await repos.usage.reserve_job(
            NewJob(None, 100, 10, "imagine", "imagine", "x"),
            units=1,
            user_quota=None,
            guild_cap=None,
            since=T0,
            max_user_in_flight=None,
            max_guild_in_flight=None,
        )


async def test_reserve_job_burst_respects_in_flight_limit(repos: Repositories) -> None:
    new = NewJob(1, 100, 10, "imagine", "imagine", "a red fox")
    results = await asyncio.gather(
        *(
            repos.usage.reserve_job(
                new,
                units=1,
                user_quota=5,
                guild_cap=None,
                since=T0,
                max_user_in_flight=3,
                max_guild_in_flight=None,
            )
            for _ in range(20)
        )
    )
    assert sum(r.allowed for r in results) == 3
    assert {r.reason for r in results if not r.allowed} == {"user_in_flight"}
    assert len(await repos.jobs.jobs_in_flight(1, 10)) == 3


async def test_stats_per_user_action_and_day(repos: Repositories, clock: FakeClock) -> None:
    a = await new_job(repos, requester_id=10)
    await charge(repos, user_id=10, units=1, job_id=a.id)
    await repos.jobs.complete(a.id, state="success")
    b = await new_job(repos, requester_id=11, action="upscale_hd")
    await charge(repos, user_id=11, units=2, job_id=b.id, action="upscale_hd")
    clock.advance(86_400)
    c = await new_job(repos, requester_id=10)
    await charge(repos, user_id=10, units=1, job_id=c.id)
    await repos.jobs.complete(c.id, state="failure", failure="banned")
    await repos.usage.refund(c.id)
    other_guild = await new_job(repos, guild_id=2, requester_id=10)
    await charge(repos, guild_id=2, units=5, job_id=other_guild.id)

    stats = await repos.usage.stats(1, T0)
    assert (stats.jobs, stats.units, stats.failures) == (3, 3.0, 1)
    assert [(u.user_id, u.jobs, u.units, u.failures) for u in stats.per_user] == [
        (11, 1, 2.0, 0),
        (10, 2, 1.0, 1),
    ]
    assert [(x.action, x.jobs, x.units, x.failures) for x in stats.per_action] == [
        ("imagine", 2, 1.0, 1),
        ("upscale_hd", 1, 2.0, 0),
    ]
    assert [(d.day, d.jobs, d.units, d.failures) for d in stats.per_day] == [
        ("2023-11-14", 2, 3.0, 0),
        ("2023-11-15", 1, 0.0, 1),
    ]
    shifted = await repos.usage.stats(1, T0, utc_offset_seconds=3 * 3600)
    assert [d.day for d in shifted.per_day] == ["2023-11-15", "2023-11-16"]
    later = await repos.usage.stats(1, T0 + 1)
    assert (later.jobs, later.units, later.failures) == (1, 0.0, 1)
