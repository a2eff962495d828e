"""Usage statistics: the period, days without jobs, the cost estimate and the chart."""

from __future__ import annotations

import io

from PIL import Image

from bot.stats import build_report, daily_series, estimated_cost, period_start, render_chart
from storage import Repositories
from storage.records import ActionUsage, DayUsage, UsageSummary
from tests.storage.support import FakeClock, new_job

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
MIDNIGHT = 1_699_920_000.0


def summary(
    *, per_action: tuple[ActionUsage, ...] = (), per_day: tuple[DayUsage, ...] = ()
) -> UsageSummary:
    return UsageSummary(
        guild_id=1,
        since=0.0,
        jobs=sum(a.jobs for a in per_action),
        units=sum(a.units for a in per_action),
        failures=sum(a.failures for a in per_action),
        per_user=(),
        per_action=per_action,
        per_day=per_day,
    )


def test_the_period_starts_at_midnight_utc_days_minus_one_days_ago() -> None:
    assert period_start(NOW, 1) == MIDNIGHT
    assert period_start(NOW, 7) == MIDNIGHT - 6 * 86_400
    assert period_start(NOW, 0) == MIDNIGHT  # at least today


def test_every_day_of_the_period_is_in_the_series() -> None:
    data = summary(per_day=(DayUsage("2023-11-12", 4, 5.0, 1), DayUsage("2023-11-14", 2, 2.0, 0)))
    series = daily_series(data, period_start(NOW, 4), 4)
    assert [d.day for d in series] == ["2023-11-11", "2023-11-12", "2023-11-13", "2023-11-14"]
    assert [d.jobs for d in series] == [0, 4, 0, 2]
    assert series[1].failures == 1


def test_the_cost_counts_jobs_that_did_not_fail_at_their_actions_price() -> None:
    data = summary(
        per_action=(
            ActionUsage("imagine", 10, 10.0, 2),
            ActionUsage("upscale_hd", 3, 6.0, 0),
            ActionUsage("pan", 5, 5.0, 0),
        )
    )
    assert estimated_cost(data, {"imagine": 0.05, "upscale_hd": 0.1}) == 8 * 0.05 + 3 * 0.1
    assert estimated_cost(data, {}) is None  # no prices: no estimate


def test_the_chart_is_a_png() -> None:
    series = [DayUsage(f"2023-11-{day:02d}", day % 4, 0.0, day % 2) for day in range(1, 31)]
    png = render_chart(series)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (800, 320)
    assert Image.open(io.BytesIO(render_chart([DayUsage("2023-11-14", 0, 0.0, 0)]))).format == "PNG"


async def test_a_report_gathers_one_guilds_period() -> None:
    clock = FakeClock(NOW - 3 * 86_400)
    async with await Repositories.open(":memory:", clock=clock) as repos:
        old = await new_job(repos, requester_id=10)
        await repos.jobs.complete(old.id, state="success")
        clock.now = NOW - 60
        for user in (10, 11):
            job = await new_job(repos, requester_id=user)
            await repos.usage.charge_if_allowed(
                1,
                user,
                job.id,
                "imagine",
                1.0,
                user_limit=None,
                guild_cap=None,
                since=0,
                max_user_in_flight=None,
                max_guild_in_flight=None,
            )
        await new_job(repos, guild_id=2, requester_id=12)
        report = await build_report(repos.usage, 1, 2, now=NOW, prices={"imagine": 0.5})
    assert report.days == 2 and len(report.per_day) == 2
    assert report.summary.jobs == 2 and report.summary.units == 2.0  # the old job is outside
    assert {u.user_id for u in report.summary.per_user} == {10, 11}
    assert report.cost == 1.0
    assert report.chart_png.startswith(b"\x89PNG")


def test_matplotlib_loads_on_first_chart_not_at_start_up() -> None:
    """Importing the bot and every cog leaves matplotlib out; the first chart brings it in."""
    import subprocess
    import sys

    script = (
        "import sys, bot.app, bot.runtime, bot.stats\n"
        "from bot.app import EXTENSIONS\n"
        "import importlib\n"
        "for name in EXTENSIONS: importlib.import_module(name)\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported at start-up'\n"
        "from bot.stats import render_chart\n"
        "from storage.records import DayUsage\n"
        "render_chart([DayUsage('2026-12-01', 1, 1.0, 0)])\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
