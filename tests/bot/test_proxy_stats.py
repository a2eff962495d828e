"""/mjadmin stats: jobs that ran on a server's own proxy are not priced as the operator's."""

from __future__ import annotations

from bot.stats import estimated_cost
from storage.records import ActionUsage, UsageSummary


def test_jobs_on_the_servers_own_proxy_are_left_out_of_the_estimate() -> None:
    data = UsageSummary(
        guild_id=1,
        since=0.0,
        jobs=13,
        units=13.0,
        failures=2,
        per_user=(),
        per_action=(ActionUsage("imagine", 10, 10.0, 2), ActionUsage("upscale", 3, 3.0, 0)),
        per_day=(),
    )
    prices = {"imagine": 0.05, "upscale": 0.01}
    assert estimated_cost(data, prices) == 8 * 0.05 + 3 * 0.01
    own = {"imagine": 6, "upscale": 3}
    assert estimated_cost(data, prices, own) == 2 * 0.05
