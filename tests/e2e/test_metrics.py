"""/healthz and /metrics through real HTTP, while a real job runs through the fake Discord."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import imagine_grid
from tests.fakes.discord import FakeDiscord


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: dict[Any, float], name: str, **labels: str) -> float:
    """Sum over every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


async def test_health_and_metrics_follow_a_job(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, tmp_path: Path
) -> None:
    port = free_port()
    await mjbot(metrics={"enabled": True, "host": "127.0.0.1", "port": port})
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "ok" and body["gateway_connected"] is True
        assert body["database_writable"] is True and body["followed_tasks"] == 0
        before = samples((await http.get("/metrics")).text)

        # One Discord 429 on the job message's first post: counted, then retried by discord.py.
        # (It is a followup of the /imagine: POST /webhooks/{app}/{token}.)
        fake_discord.inject_error("POST", r"^/webhooks/\d+/[^/]+$", status=429)
        grid = await imagine_grid(fake_discord, sim, "a lantern in fog")
        assert grid["attachments"]

        scrape = await http.get("/metrics")
        assert scrape.headers["content-type"].startswith("text/plain")
        after = samples(scrape.text)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("mjbot_submits_total", outcome="submitted") == 1
    assert grew("mjbot_proxy_request_duration_seconds_count", endpoint="submit/imagine") == 1
    assert grew("mjbot_proxy_request_duration_seconds_count", status="200") >= 2  # + polls
    assert grew("mjbot_poll_cycle_duration_seconds_count") >= 1
    assert value(after, "mjbot_last_successful_poll_timestamp_seconds") > 0
    assert grew("mjbot_discord_requests_total", route="interaction_callback") >= 1
    assert grew("mjbot_discord_requests_total", status="429") == 1
    assert grew("mjbot_discord_rate_limited_total") == 1
    assert grew("mjbot_interactions_acknowledged_total") >= 1
    assert grew("mjbot_interaction_ack_latency_seconds_count") >= 1
    assert grew("mjbot_uploads_total") >= 1
    assert grew("mjbot_upload_size_bytes_sum") > 1000  # the grid image went up
    assert grew("mjbot_jobs_finished_total", state="success") == 1
    assert value(after, "mjbot_jobs", state="in_progress") == 0
    assert value(after, "mjbot_gateway_connected") == 1
    # Task ids never become label values (one series per endpoint, not per task).
    assert not any("1" in dict(labels).get("endpoint", "") for (_, labels) in after)


async def test_healthz_says_when_the_database_cannot_be_written(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, tmp_path: Path
) -> None:
    port = free_port()
    await mjbot(metrics={"enabled": True, "port": port})
    blocker = sqlite3.connect(tmp_path / "mjbot.sqlite3", timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database (a VACUUM, say)
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        blocker.rollback()
        blocker.close()
    assert health.status_code == 503
    assert health.json()["database_writable"] is False
    assert health.json()["gateway_connected"] is True


async def test_a_busy_metrics_port_stops_the_start(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            await mjbot(metrics={"enabled": True, "port": port})
        except RuntimeError as exc:
            assert "exited at start-up with 1" in str(exc)
        else:
            raise AssertionError("the bot started without its metrics endpoint")
