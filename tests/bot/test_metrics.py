"""Metric labels stay bounded: endpoints and routes, never task ids, snowflakes or tokens."""

from __future__ import annotations

import pytest

from bot.metrics import Metrics, discord_route, proxy_endpoint
from bot.midjourney.outcomes import Queued, Submitted, Unavailable


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/mj/submit/imagine", "submit/imagine"),
        ("/v1/mj/task/1712345678901234/fetch", "task/{id}/fetch"),
        ("/mj-relax/mj/task/list-by-condition", "task/list-by-condition"),
        ("/mj/task/0d9a3c1e-8f7b-4a2e-9c1d-2b3e4f5a6b7c/image-seed", "task/{id}/image-seed"),
        ("/favicon.ico", "other"),
    ],
)
def test_proxy_endpoints(path: str, endpoint: str) -> None:
    assert proxy_endpoint(path) == endpoint


@pytest.mark.parametrize(
    ("path", "route"),
    [
        (
            "/api/v10/interactions/1234567890123/aW50ZXJhY3Rpb246MTIz/callback",
            "interaction_callback",
        ),
        ("/api/v10/webhooks/123/aW50ZXJhY3Rpb24/messages/@original", "interaction_followup"),
        ("/api/v10/channels/123/messages/456", "messages"),
        ("/api/v10/applications/1/guilds/2/commands", "commands"),
        ("/api/v10/users/@me", "other"),
    ],
)
def test_discord_routes(path: str, route: str) -> None:
    assert discord_route("POST", path) == route


def test_submit_outcomes_are_named_from_their_type() -> None:
    metrics = Metrics()
    metrics.submit_answered(Submitted(task_id="1"))
    metrics.submit_answered(Queued(task_id="2", position=3))
    metrics.submit_answered(Unavailable(reason="x", maybe_sent=True))
    get = metrics.registry.get_sample_value
    assert get("mjbot_submits_total", {"outcome": "submitted"}) == 1
    assert get("mjbot_submits_total", {"outcome": "queued"}) == 1
    assert get("mjbot_submits_total", {"outcome": "unavailable_maybe_sent"}) == 1


def test_an_acknowledgement_is_timed_from_the_interactions_snowflake() -> None:
    metrics = Metrics()
    import time

    snowflake = int((time.time() - 0.5 - 1420070400) * 1000) << 22
    metrics.discord_request(
        "POST",
        f"/api/v10/interactions/{snowflake}/token/callback",
        200,
        sent_bytes=10,
        multipart=False,
    )
    get = metrics.registry.get_sample_value
    assert get("mjbot_interactions_acknowledged_total", {"status": "200"}) == 1
    latency = get("mjbot_interaction_ack_latency_seconds_sum")
    assert latency is not None and 0.5 <= latency < 5


def test_a_disabled_metrics_object_records_nothing_until_enabled() -> None:
    metrics = Metrics(enabled=False)
    metrics.discord_request("POST", "/channels/1/messages", 429, sent_bytes=0, multipart=False)
    metrics.poll_cycle(0.1, answered=True, followed=3)
    assert metrics.last_poll_age() < 5  # /healthz's poll age is kept even while disabled
    assert not hasattr(metrics, "registry")
    metrics.enable()
    metrics.discord_request("POST", "/channels/1/messages", 429, sent_bytes=0, multipart=False)
    assert metrics.discord_rate_limited.labels("unknown")._value.get() == 1
