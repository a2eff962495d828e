"""The fake gateway shards as Discord does: per-session routing by `(guild_id >> 22) % count`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakes.discord import FakeDiscord, default_guild, patch_discord, snowflake_on_shard
from tests.fakes.discord.clock import FakeClock

pytestmark = pytest.mark.discord_unlimited


def test_snowflake_on_shard_keeps_a_real_id() -> None:
    clock = FakeClock()
    for count in (1, 2, 3, 16):
        for shard_id in range(count):
            raw = clock.snowflake()
            moved = snowflake_on_shard(raw, shard_id, count)
            assert (moved >> 22) % count == shard_id
            assert 0 <= (raw >> 22) - (moved >> 22) < count
            assert moved & ((1 << 22) - 1) == raw & ((1 << 22) - 1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    clock = FakeClock()
    guilds = [
        default_guild(clock, "Zero", shard=(0, 2)),
        default_guild(clock, "One", shard=(1, 2)),
    ]
    async with FakeDiscord(guilds=guilds) as started:
        with patch_discord(started):
            yield started


class RawShard:
    """One gateway connection that identifies as a shard and records what it receives."""

    def __init__(self, fake: FakeDiscord, shard: list[int] | None) -> None:
        self.fake = fake
        self.shard = shard
        self.events: list[dict[str, Any]] = []
        self.closed: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> RawShard:
        self._session = aiohttp.ClientSession()
        ws = self._ws = await self._session.ws_connect(self.fake.gateway_url)
        await ws.receive_json()  # HELLO
        identify: dict[str, Any] = {"token": self.fake.token, "intents": 1, "properties": {}}
        if self.shard is not None:
            identify["shard"] = self.shard
        await ws.send_str(json.dumps({"op": 2, "d": identify}))
        self._reader = asyncio.create_task(self._read(ws))
        return self

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))
                self.fake.notify()
        self.closed = ws.close_code
        self.fake.notify()

    def seen(self, event: str) -> list[dict[str, Any]]:
        return [e["d"] for e in self.events if e.get("t") == event]

    def guilds_created(self) -> set[int]:
        return {int(d["id"]) for d in self.seen("GUILD_CREATE")}

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()


async def connected(fake: FakeDiscord, *shards: list[int] | None) -> list[RawShard]:
    clients = [await RawShard(fake, shard).connect() for shard in shards]
    await fake.wait_for(lambda: all(c.seen("READY") or c.closed for c in clients))
    return clients


async def test_each_shard_gets_only_its_guilds(fake: FakeDiscord) -> None:
    zero, one = fake.guilds
    clients = await connected(fake, [0, 2], [1, 2])
    try:
        await fake.wait_for(lambda: all(c.guilds_created() for c in clients))
        first, second = clients
        assert first.seen("READY")[0]["shard"] == [0, 2]
        assert [g["id"] for g in first.seen("READY")[0]["guilds"]] == [str(zero.id)]
        assert first.guilds_created() == {zero.id}
        assert second.seen("READY")[0]["shard"] == [1, 2]
        assert second.guilds_created() == {one.id}
        assert fake.gateway.connected_shards() == {(0, 2), (1, 2)}
    finally:
        for client in clients:
            await client.close()


async def test_interactions_go_to_the_owning_shard_and_dms_to_shard_zero(
    fake: FakeDiscord,
) -> None:
    zero, one = fake.guilds
    fake.commands[None] = [{"id": "1", "name": "imagine", "type": 1, "options": []}]
    first, second = await connected(fake, [0, 2], [1, 2])
    try:
        await fake.slash(
            "imagine", {}, guild_id=one.id, channel_id=one.channels[0].id, user=one.members[0].user
        )
        await fake.wait_for(lambda: second.seen("INTERACTION_CREATE"))
        await fake.slash("imagine", {}, guild_id=zero.id)
        await fake.wait_for(lambda: first.seen("INTERACTION_CREATE"))
        assert [d["guild_id"] for d in second.seen("INTERACTION_CREATE")] == [str(one.id)]
        assert [d["guild_id"] for d in first.seen("INTERACTION_CREATE")] == [str(zero.id)]
        sent = await fake.gateway.dispatch("MESSAGE_CREATE", {"id": "1", "channel_id": "9"})
        assert sent == 1  # a direct message: shard 0 only
        await fake.wait_for(lambda: first.seen("MESSAGE_CREATE"))
        assert not second.seen("MESSAGE_CREATE")
    finally:
        await first.close()
        await second.close()


async def test_an_unsharded_session_gets_everything(fake: FakeDiscord) -> None:
    [client] = await connected(fake, None)
    try:
        await fake.wait_for(lambda: len(client.guilds_created()) == 2)
        assert client.seen("READY")[0]["shard"] == [0, 1]
    finally:
        await client.close()


async def test_bad_shards_and_required_sharding_are_refused(fake: FakeDiscord) -> None:
    bad = await connected(fake, [2, 2], [0, 0], [-1, 2])
    fake.required_shards = 2
    unsharded = await connected(fake, None)
    try:
        assert [c.closed for c in bad] == [4010, 4010, 4010]
        assert [c.closed for c in unsharded] == [4011]
        assert fake.gateway.identify_count == 0
    finally:
        for client in [*bad, *unsharded]:
            await client.close()


async def test_gateway_bot_recommends_the_configured_count(fake: FakeDiscord) -> None:
    fake.recommended_shards = 3
    async with aiohttp.ClientSession() as session:
        async with session.get(
            fake.api_base_url + "/gateway/bot", headers={"Authorization": f"Bot {fake.token}"}
        ) as response:
            body = await response.json()
    assert body["shards"] == 3 and body["url"].startswith("ws://127.0.0.1")


async def test_discord_py_autosharded_clients_split_the_guilds(fake: FakeDiscord) -> None:
    """Two real discord.py clients (think: two processes), one shard each, plus automatic."""
    zero, one = fake.guilds
    clients = [
        discord.AutoShardedClient(
            intents=discord.Intents.none(), shard_count=2, shard_ids=[i], guild_ready_timeout=0.05
        )
        for i in (0, 1)
    ]
    # Logged in before waiting: wait_until_ready() refuses a client that has not logged in yet,
    # which start()'s task may not have done by the time the test gets there.
    for client in clients:
        await client.login(fake.token)
    tasks = [asyncio.create_task(c.connect()) for c in clients]
    try:
        for client in clients:
            await asyncio.wait_for(client.wait_until_ready(), 10)
        assert [{g.id for g in c.guilds} for c in clients] == [{zero.id}, {one.id}]
        assert fake.gateway.connected_shards() == {(0, 2), (1, 2)}
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    fake.recommended_shards = 2
    auto = discord.AutoShardedClient(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    auto.before_identify_hook = _no_identify_delay  # type: ignore[method-assign]
    await auto.login(fake.token)
    task = asyncio.create_task(auto.connect())
    try:
        await asyncio.wait_for(auto.wait_until_ready(), 20)
        assert auto.shard_count == 2 and {g.id for g in auto.guilds} == {zero.id, one.id}
    finally:
        await auto.close()
        await asyncio.gather(task, return_exceptions=True)


async def _no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    return None  # discord.py waits 5 s between two IDENTIFYs of one client


async def test_members_of_every_guild_are_found_by_id(fake: FakeDiscord) -> None:
    zero, one = fake.guilds
    first, second = zero.members[0].user, one.members[0].user
    assert first.username == second.username == "alice" and first.id != second.id
    assert fake.find_user(first.id) is first and fake.find_user(second.id) is second
