"""ModerationService on a real (in-memory) database: permission, audit, cancel, isolation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.access import Gate
from bot.config import QuotaSettings
from bot.errors import UserFacingError
from bot.midjourney.errors import MidjourneyError
from bot.moderation import CANCELLED_BY_MODERATOR, ModerationService
from bot.requester import Requester
from storage import JobRecord, Repositories
from storage.guilds import AuditEntry
from tests.storage.support import FakeClock, new_job

GUILD, OTHER = 1, 2
MOD = Requester(user_id=5, channel_id=100, guild_id=GUILD, can_manage_guild=True)
MEMBER = Requester(user_id=10, channel_id=100, guild_id=GUILD)
OTHER_MOD = Requester(user_id=6, channel_id=200, guild_id=OTHER, can_manage_guild=True)


@dataclass
class FakeTracker:
    unfollowed: list[str] = field(default_factory=list)

    def unfollow(self, task_id: str) -> None:
        self.unfollowed.append(task_id)


@dataclass
class FakeApi:
    answer: bool | Exception = True
    cancelled: list[str] = field(default_factory=list)

    async def cancel(self, task_id: str) -> bool:
        self.cancelled.append(task_id)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@dataclass
class World:
    repos: Repositories
    service: ModerationService
    tracker: FakeTracker
    api: FakeApi
    changes: list[AuditEntry]
    shown: list[JobRecord]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = FakeClock()
    async with await Repositories.open(":memory:", clock=clock) as repos:
        tracker, api = FakeTracker(), FakeApi()
        quota = QuotaSettings(prices={"imagine": 0.04})
        service = ModerationService(
            repos.guilds,
            repos.usage,
            repos.jobs,
            Gate(repos.guilds, quota, clock=clock),
            tracker,
            api,
            quota,
            clock=clock,
        )
        changes: list[AuditEntry] = []
        shown: list[JobRecord] = []

        async def on_change(entry: AuditEntry) -> None:
            changes.append(entry)

        async def on_cancelled(job: JobRecord) -> None:
            shown.append(job)

        service.on_change = on_change
        service.on_job_cancelled = on_cancelled
        yield World(repos, service, tracker, api, changes, shown)


async def test_members_without_manage_server_are_refused_by_every_operation(world: World) -> None:
    s = world.service
    operations = [
        s.pause(MEMBER),
        s.add_channel(MEMBER, 1),
        s.ban(MEMBER, 11, "x"),
        s.set_daily_quota(MEMBER, 1),
        s.add_word(MEMBER, "x"),
        s.config(MEMBER),
        s.jobs(MEMBER),
        s.stats(MEMBER, 7),
        s.cancel_job(MEMBER, 1),
    ]
    for operation in operations:
        with pytest.raises(UserFacingError) as caught:
            await operation
        assert caught.value.key == "admin.not_allowed"
    assert not (await world.repos.guilds.get(GUILD)).paused
    assert await world.repos.guilds.audit_entries(GUILD) == []
    with pytest.raises(UserFacingError, match=re.escape("access.guild_only")):
        await s.pause(Requester(user_id=5, channel_id=1, can_manage_guild=True))


async def test_every_change_is_audited_with_who_and_what(world: World) -> None:
    s = world.service
    await s.add_channel(MOD, 300)
    await s.ban(MOD, 11, "  too   many\njobs ")
    await s.set_weight(MOD, "upscale_hd", 2)
    change = await s.set_in_flight(MOD, 2, None)
    assert change.params == {"per_user": "2", "per_guild": "20"}
    entries = await world.repos.guilds.audit_entries(GUILD)
    assert [(e.actor_id, e.action, e.detail) for e in reversed(entries)] == [
        (5, "channel.add", "<#300>"),
        (5, "ban", "<@11>: too many jobs"),
        (5, "quota.weight", "upscale_hd = 2"),
        (5, "quota.in_flight", "2 / 20"),
    ]
    assert [e.id for e in world.changes] == [e.id for e in reversed(entries)]
    config = await s.config(MOD)
    assert config.policy.units_for("upscale_hd") == 2 and config.policy.max_jobs_per_user == 2
    assert [b.reason for b in config.bans] == ["too many jobs"]
    assert config.prices == {"imagine": 0.04}


async def test_refusals_that_change_nothing(world: World) -> None:
    s = world.service
    for operation, key in [
        (s.unban(MOD, 11), "admin.ban.not_banned"),
        (s.reset_user_quota(MOD, 11), "admin.quota.no_override"),
        (s.set_weight(MOD, "teleport", 1), "admin.quota.unknown_action"),
        (s.set_in_flight(MOD, None, None), "admin.quota.in_flight_nothing"),
        (s.add_word(MOD, "   "), "admin.words.empty"),
        (s.remove_word(MOD, "kraken"), "admin.words.unknown"),
        (s.set_audit_channel(MOD, 400, OTHER), "admin.auditlog.other_guild"),
    ]:
        with pytest.raises(UserFacingError) as caught:
            await operation
        assert caught.value.key == key
    assert world.changes == []


async def running_job(world: World, guild_id: int = GUILD) -> JobRecord:
    job = await new_job(world.repos, guild_id=guild_id)
    await world.repos.usage.charge_if_allowed(
        guild_id,
        job.requester_id,
        job.id,
        "imagine",
        1.0,
        user_limit=None,
        guild_cap=None,
        since=0,
        max_user_in_flight=None,
        max_guild_in_flight=None,
    )
    return await world.repos.jobs.mark_submitted(job.id, f"task-{job.id}", state="in_progress")


async def test_cancel_stops_tracking_refunds_and_asks_the_proxy(world: World) -> None:
    job = await running_job(world)
    change = await world.service.cancel_job(MOD, job.id)
    assert change.key == "admin.jobs.cancelled"
    record = await world.repos.jobs.get(job.id)
    assert record is not None
    assert record.state == "cancelled" and record.failure == CANCELLED_BY_MODERATOR
    assert world.tracker.unfollowed == [job.task_id] and world.api.cancelled == [job.task_id]
    assert await world.repos.usage.usage_since(GUILD, job.requester_id, 0) == 0
    assert [j.id for j in world.shown] == [job.id]
    with pytest.raises(UserFacingError, match=re.escape("admin.jobs.finished")):
        await world.service.cancel_job(MOD, job.id)


async def test_a_proxy_that_cannot_cancel_still_leaves_the_job_cancelled(world: World) -> None:
    world.api.answer = MidjourneyError("no route")
    job = await running_job(world)
    assert (await world.service.cancel_job(MOD, job.id)).key == "admin.jobs.cancelled_here"
    record = await world.repos.jobs.get(job.id)
    assert record is not None and record.state == "cancelled"


async def test_a_job_being_submitted_is_not_cancelled(world: World) -> None:
    job = await new_job(world.repos)
    with pytest.raises(UserFacingError, match=re.escape("admin.jobs.submitting")):
        await world.service.cancel_job(MOD, job.id)


async def test_nothing_of_another_guild_is_visible_or_changeable(world: World) -> None:
    theirs = await running_job(world, OTHER)
    await world.service.add_word(OTHER_MOD, "kraken")
    await world.service.pause(OTHER_MOD)
    with pytest.raises(UserFacingError) as caught:
        await world.service.cancel_job(MOD, theirs.id)
    assert caught.value.key == "admin.jobs.not_found"
    assert world.tracker.unfollowed == [] and world.api.cancelled == []
    config = await world.service.config(MOD)
    assert config.banned_words == () and not config.policy.paused
    overview = await world.service.jobs(MOD)
    assert overview.in_flight == () and overview.recent == ()
    assert (await world.service.stats(MOD, 7)).summary.jobs == 0
    assert (await world.service.stats(OTHER_MOD, 7)).summary.jobs == 1
    assert [j.job.id for j in (await world.service.jobs(OTHER_MOD)).in_flight] == [theirs.id]


async def test_an_out_of_range_job_id_is_not_found_without_reaching_sqlite(world: World) -> None:
    # Discord enforces the option's range, discord.py does not: a forged interaction could.
    for forged in (10**30, 2**63, 0, -5):
        with pytest.raises(UserFacingError) as caught:
            await world.service.cancel_job(MOD, forged)
        assert caught.value.key == "admin.jobs.not_found"
