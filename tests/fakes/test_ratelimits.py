"""The fake Discord's REST rate limits: headers, buckets, the global limit, discord.py's answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from tests.fakes.discord import FakeDiscord, Limits, patch_discord, running


@pytest.fixture
async def limited() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(rate_limits=Limits(channel_messages=3, channel_window=60.0))
    await fake.start()
    try:
        with patch_discord(fake):
            yield fake
    finally:
        await fake.stop()


async def _post(
    session: aiohttp.ClientSession, fake: FakeDiscord, channel_id: int
) -> aiohttp.ClientResponse:
    async with session.post(
        f"{fake.api_base_url}/channels/{channel_id}/messages",
        json={"content": "hi"},
        headers={"Authorization": f"Bot {fake.token}"},
    ) as response:
        await response.read()
        return response


async def test_every_answer_carries_the_bucket_headers(limited: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        first = await _post(session, limited, limited.channel.id)
        second = await _post(session, limited, limited.channel.id)
        async with session.get(
            f"{limited.api_base_url}/users/@me", headers={"Authorization": f"Bot {limited.token}"}
        ) as me:
            await me.read()
    assert first.status == second.status == me.status == 200
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert [first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]] == [
        "2",
        "1",
    ]
    assert 59.0 < float(second.headers["X-RateLimit-Reset-After"]) <= 60.0
    assert abs(float(second.headers["X-RateLimit-Reset"]) - (limited.clock.now() + 60)) < 2
    assert first.headers["X-RateLimit-Bucket"] == second.headers["X-RateLimit-Bucket"]
    assert me.headers["X-RateLimit-Bucket"] != first.headers["X-RateLimit-Bucket"]


async def test_a_channel_bucket_answers_429_and_other_channels_are_free(
    limited: FakeDiscord,
) -> None:
    other = limited.guild.channels[1].id
    async with aiohttp.ClientSession() as session:
        answers = [await _post(session, limited, limited.channel.id) for _ in range(4)]
        elsewhere = await _post(session, limited, other)
        async with session.post(
            f"{limited.api_base_url}/channels/{limited.channel.id}/messages",
            json={"content": "hi"},
            headers={"Authorization": f"Bot {limited.token}"},
        ) as again:
            body = await again.json()
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert elsewhere.status == 200
    over = answers[3]
    assert over.headers["X-RateLimit-Scope"] == "user"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert "Via" in over.headers and int(over.headers["Retry-After"]) >= 1
    assert "X-RateLimit-Global" not in over.headers
    assert body["global"] is False and 0 < body["retry_after"] <= 60
    assert limited.rate_limits.by_scope == {"user": 2}
    assert len(limited.channel_messages(limited.channel.id)) == 3  # the 429s created nothing
    assert len(limited.take_rate_limited()) == 2 and not limited.rate_limits.limited


async def test_the_global_limit_spares_interaction_routes() -> None:
    fake = FakeDiscord(rate_limits=Limits(global_per_second=3, other=100))
    async with fake:
        auth = {"Authorization": f"Bot {fake.token}"}
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(3):
                async with session.get(f"{fake.api_base_url}/users/@me", headers=auth) as r:
                    statuses.append(r.status)
            # An interaction webhook route (token in the URL): not bound by the global limit.
            async with session.get(
                f"{fake.api_base_url}/webhooks/{fake.application_id}/some-token/messages/@original"
            ) as hook:
                await hook.read()
            async with session.get(f"{fake.api_base_url}/users/@me", headers=auth) as over:
                body = await over.json()
    assert statuses == [200, 200, 200]
    assert hook.status == 401  # unknown token, but not rate limited
    assert "X-RateLimit-Bucket" in hook.headers
    assert over.status == 429
    assert over.headers["X-RateLimit-Global"] == "true"
    assert over.headers["X-RateLimit-Scope"] == "global"
    assert body["global"] is True
    assert fake.rate_limits.by_scope == {"global": 1}


async def test_discord_py_paces_a_channel_bucket_from_the_headers() -> None:
    """Sequential sends: discord.py learns limit/remaining/reset and sleeps instead of a 429."""
    fake = FakeDiscord(rate_limits=Limits(channel_messages=2, channel_window=0.5))
    client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    async with fake:
        with patch_discord(fake):
            async with running(client, fake):
                channel = client.get_partial_messageable(fake.channel.id)
                for n in range(6):
                    await channel.send(f"m{n}")
    assert len(fake.channel_messages(fake.channel.id)) == 6
    assert not fake.rate_limits.limited


async def test_discord_py_retries_after_a_global_429() -> None:
    """discord.py does not pace the global limit: it learns of it from a 429, sleeps, retries."""
    fake = FakeDiscord(rate_limits=Limits(global_per_second=4, other=100, channel_messages=100))
    client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    async with fake:
        with patch_discord(fake):
            async with running(client, fake):
                fake.take_rate_limited()
                channels = [c.id for c in fake.guild.channels]
                await asyncio.gather(
                    *(
                        client.get_partial_messageable(channels[n % 2]).send(f"m{n}")
                        for n in range(10)
                    )
                )
                limited = fake.take_rate_limited()
    sent = sum(len(fake.channel_messages(c)) for c in channels)
    assert sent == 10
    assert limited and {hit.scope for hit in limited} == {"global"}
