"""The /info summary (usage against quota, running and finished jobs) and its rendering."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.access import Gate, start_of_day
from bot.config import QuotaSettings
from bot.errors import UserFacingError
from bot.info import DAY_SECONDS, InfoService, InfoSummary, JobLine, render_info
from bot.requester import Requester
from storage import Repositories
from storage.records import NewJob
from tests.storage.support import T0, FakeClock

GUILD, USER, OTHER, CHANNEL = 1, 10, 11, 100


@pytest.fixture
async def repos() -> AsyncIterator[Repositories]:
    async with await Repositories.open(":memory:", clock=FakeClock()) as opened:
        yield opened


def service(repos: Repositories, **quota: int) -> InfoService:
    gate = Gate(repos.guilds, QuotaSettings(**quota), clock=lambda: T0)
    return InfoService(gate, repos.usage, repos.jobs)


async def start_job(
    repos: Repositories, prompt: str, *, user: int = USER, units: float = 1.0
) -> int:
    reservation = await repos.usage.reserve_job(
        NewJob(GUILD, CHANNEL, user, "imagine", "imagine", prompt),
        units=units,
        user_quota=0,
        guild_cap=0,
        since=0,
        max_user_in_flight=0,
        max_guild_in_flight=0,
    )
    assert reservation.job is not None
    return reservation.job.id


WHO = Requester(user_id=USER, channel_id=CHANNEL, guild_id=GUILD)


async def test_summary_counts_usage_and_splits_running_from_finished(repos: Repositories) -> None:
    running = await start_job(repos, "a red fox", units=2)
    done = await start_job(repos, "a blue whale")
    failed = await start_job(repos, "a green frog")
    await start_job(repos, "someone else's", user=OTHER)
    await repos.jobs.add_message(5001, running, CHANNEL, GUILD)
    await repos.jobs.add_message(5002, done, CHANNEL, GUILD)
    await repos.jobs.complete(done, state="success")
    await repos.jobs.complete(failed, state="failure", failure="boom")
    await repos.usage.refund(failed)

    summary = await service(repos, daily_quota=10, max_jobs_per_user=3).summary(WHO)

    assert summary.used == 3.0 and summary.quota == 10.0
    assert summary.resets_at == start_of_day(T0) + DAY_SECONDS
    assert [line.job_id for line in summary.running] == [running]
    assert summary.running[0].message_id == 5001 and summary.running_total == 1
    assert summary.max_running == 3
    assert [line.job_id for line in summary.recent] == [failed, done]
    assert summary.recent[0].message_id is None and summary.recent[1].message_id == 5002
    assert not summary.paused


async def test_zero_means_unlimited(repos: Repositories) -> None:
    summary = await service(repos, daily_quota=0, max_jobs_per_user=0).summary(WHO)
    assert summary.quota is None and summary.max_running is None
    assert summary.used == 0 and summary.running == () and summary.recent == ()


async def test_outside_a_guild_is_refused(repos: Repositories) -> None:
    with pytest.raises(UserFacingError) as refused:
        await service(repos).summary(Requester(user_id=USER, channel_id=CHANNEL))
    assert refused.value.key == "access.guild_only"


def line(job_id: int, **changes: object) -> JobLine:
    values: dict[str, object] = {
        "job_id": job_id,
        "kind": "imagine",
        "action": "imagine",
        "state": "in_progress",
        "prompt": "a red fox",
        "progress": 40,
        "queue_position": None,
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "message_id": 7000 + job_id,
    }
    values.update(changes)
    return JobLine(**values)  # type: ignore[arg-type]


def summary(**changes: object) -> InfoSummary:
    values: dict[str, object] = {
        "used": 2.5,
        "quota": 10.0,
        "resets_at": 1_700_006_400.0,
        "running": (line(1), line(2, state="queued", queue_position=3, message_id=None)),
        "running_total": 2,
        "max_running": 3,
        "recent": (line(3, state="success", kind="action", action="upscale", prompt="x"),),
        "paused": False,
    }
    values.update(changes)
    return InfoSummary(**values)  # type: ignore[arg-type]


def test_render_in_english() -> None:
    text = render_info(summary(), "en")
    assert "Used today: **2.5** of **10** units. The quota resets <t:1700006400:R>." in text
    assert "**Running** (2 of at most 3 at a time):" in text
    assert (
        "• 🎨 **Imagine** · `a red fox` · 40% · "
        f"[open](https://discord.com/channels/{GUILD}/{CHANNEL}/7001)"
    ) in text
    assert "• ⏳ **Imagine** · `a red fox` · queued, 3 ahead · no message" in text
    assert "• ✅ **Upscale** · `x` ·" in text.split("Recently finished")[1]


def test_render_unlimited_paused_and_many_jobs() -> None:
    many = tuple(line(n, prompt="word " * 200) for n in range(10))
    text = render_info(
        summary(quota=None, max_running=None, running=many, running_total=40, paused=True), "en"
    )
    assert "Used today: **2.5** units (no daily limit)." in text
    assert "paused" in text and "**Running** (40):" in text
    assert "… and 30 more." in text
    assert len(text) <= 2000


def test_render_in_chinese_and_without_jobs() -> None:
    text = render_info(summary(running=(), running_total=0, recent=()), "zh-CN")
    assert "今日已用" in text and "没有正在运行的任务" in text and "还没有完成的任务" in text


def test_a_prompt_with_markdown_is_shown_as_code_not_as_a_link() -> None:
    hostile = "[Claim free Nitro](https://evil.example) `x` **y**"
    text = render_info(summary(running=(line(1, prompt=hostile),), running_total=1), "en")
    # Inside one inline code span Discord renders nothing: no link, no bold, no code escape.
    assert "`[Claim free Nitro](https://evil.example) 'x' **y**`" in text
