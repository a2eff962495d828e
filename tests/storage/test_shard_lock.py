"""Per-shard advisory locks on a real PostgreSQL server: one process per shard, overlap refused."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from storage.db import StorageUnavailable
from storage.shard_lock import ShardLock, ShardsTaken
from storage.shards import ALL_SHARDS, ShardScope


async def test_one_process_per_shard(postgres_url: str) -> None:
    zero = await ShardLock.acquire(postgres_url, ShardScope.of(2, [0]), name="mjbot host-a:11")
    one = await ShardLock.acquire(postgres_url, ShardScope.of(2, [1]), name="mjbot host-b:22")
    try:
        with pytest.raises(ShardsTaken) as refused:
            await ShardLock.acquire(postgres_url, ShardScope.of(2, [1]))
        sentence = str(refused.value)
        assert sentence.startswith("Shard 1 of 2 is already run by another mjbot process")
        assert "mjbot host-b:22, PostgreSQL backend" in sentence
        assert "host-a" not in sentence and "\n" not in sentence and sentence.endswith(").")
        # Every shard, or automatic sharding, overlaps both.
        for scope in (ShardScope.of(2), ALL_SHARDS):
            with pytest.raises(ShardsTaken, match=r"other mjbot processes.*host-a:11.*host-b:22"):
                await ShardLock.acquire(postgres_url, scope)
        await zero.release()
        # Another shard count: shard 3 of 4's guilds are on shard 1 of 2, shard 2 of 4's are not.
        with pytest.raises(ShardsTaken, match=r"^Shard 3 of 4 is already run by another"):
            await ShardLock.acquire(postgres_url, ShardScope.of(4, [2, 3]))
        again = await ShardLock.acquire(postgres_url, ShardScope.of(4, [0, 2]))
        await again.release()
    finally:
        await zero.release()
        await one.release()


async def test_automatic_sharding_claims_everything(postgres_url: str) -> None:
    everything = await ShardLock.acquire(postgres_url, ALL_SHARDS, name="mjbot solo:1")
    try:
        with pytest.raises(ShardsTaken, match=r"^Shard 0 of 3 is already run .*all shards"):
            await ShardLock.acquire(postgres_url, ShardScope.of(3, [0]))
        with pytest.raises(ShardsTaken, match=r"^All shards are already run") as refused:
            await ShardLock.acquire(postgres_url, ALL_SHARDS)
        assert refused.value.exit_code == 2  # a setup to change, like a refused configuration
    finally:
        await everything.release()
    assert not everything.held


async def test_simultaneous_claims_of_one_shard_admit_one(postgres_url: str) -> None:
    results = await asyncio.gather(
        *(ShardLock.acquire(postgres_url, ShardScope.of(2, [1])) for _ in range(6)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, ShardLock)]
    assert len(won) == 1 and all(isinstance(r, ShardsTaken) for r in results if r not in won)
    await won[0].release()


HOLDER = """
import asyncio, sys
from storage.shard_lock import ShardLock
from storage.shards import ShardScope
async def main():
    lock = await ShardLock.acquire(sys.argv[1], ShardScope.of(2, [0]))
    print("held", flush=True)
    await asyncio.Event().wait()
    await lock.release()
asyncio.run(main())
"""


async def test_a_killed_process_gives_its_shards_back(postgres_url: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, postgres_url, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"held\n"
    with pytest.raises(ShardsTaken, match=rf":{child.pid}, PostgreSQL backend"):
        await ShardLock.acquire(postgres_url, ShardScope.of(2, [0]))
    os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    # The server notices the dropped connection at once; claim until it has (bounded).
    for _ in range(100):
        try:
            lock = await ShardLock.acquire(postgres_url, ShardScope.of(2, [0]))
        except ShardsTaken:
            await asyncio.sleep(0.05)
        else:
            await lock.release()
            return
    raise AssertionError("shard 0 stayed held after its process was killed")


async def test_a_lost_connection_is_reported(postgres_url: str) -> None:
    lost = asyncio.Event()
    lock = await ShardLock.acquire(postgres_url, ShardScope.of(2, [0]), on_lost=lost.set)
    other = await ShardLock.acquire(postgres_url, ShardScope.of(2, [1]))
    try:
        await other._connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
            " AND pid <> pg_backend_pid()",
            (await lock._connection.fetchval("SELECT current_setting('application_name')")),
        )
        await asyncio.wait_for(lost.wait(), 10)
        assert not lock.held
    finally:
        await other.release()
        await lock.release()


async def test_releasing_is_not_losing(postgres_url: str) -> None:
    lost = asyncio.Event()
    lock = await ShardLock.acquire(postgres_url, ShardScope.of(2, [0]), on_lost=lost.set)
    await lock.release()
    await asyncio.sleep(0)
    assert not lost.is_set() and not lock.held


async def test_an_unreachable_server_is_said_without_the_password() -> None:
    url = "postgresql://mjbot:not-this-pw-3a1@127.0.0.1:1/mjbot"
    with pytest.raises(StorageUnavailable) as failed:
        await ShardLock.acquire(url, ShardScope.of(2, [0]))
    assert "127.0.0.1:1" in str(failed.value) and "not-this-pw" not in str(failed.value)
