"""PostgreSQL: the write lock across processes, concurrent migrations, 64-bit ids, and one
sentence (without the password) for a server that cannot be used."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess

import asyncpg
import pytest

import storage.postgres
from storage import Database, Repositories, StorageError, StorageUnavailable
from storage.postgres import WRITE_LOCK_KEY
from tests.storage.support import T0, FakeClock
from tests.support.postgres import OWNER, PASSWORD, PostgresServer, stop_abandoned

SNOWFLAKE = 1_284_123_456_789_012_345  # a 2020s Discord id: far past 2^32 (and 2^53)


async def _waiting_for_the_write_lock(db: Database) -> bool:
    return bool(
        await db.fetch_value(
            """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND objid = ?""",
            (WRITE_LOCK_KEY & 0xFFFFFFFF,),
        )
    )


async def test_a_writer_of_another_pool_waits_and_then_sees_the_commit(
    postgres_url: str, clock: FakeClock
) -> None:
    """Two pools are two processes: the second's quota check waits for the first's commit, so
    it counts the first's charge (READ COMMITTED alone would let both charge)."""
    async with (
        await Repositories.open(postgres_url, clock=clock) as a,
        await Repositories.open(postgres_url, clock=clock) as b,
    ):
        inside, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with a.db.transaction() as tx:
                await tx.execute(
                    """INSERT INTO usage (guild_id, user_id, action, units, created_at)
                       VALUES (1, 10, 'imagine', 1, ?)""",
                    (T0,),
                )
                inside.set()
                await release.wait()

        holder = asyncio.create_task(first())
        await inside.wait()
        second = asyncio.create_task(
            b.usage.charge_if_allowed(
                1,
                10,
                None,
                "imagine",
                1.0,
                user_limit=1,
                guild_cap=None,
                since=T0,
                max_user_in_flight=None,
                max_guild_in_flight=None,
            )
        )
        try:
            # Polls the server's lock table until the second writer either waits or is done.
            while not second.done() and not await _waiting_for_the_write_lock(a.db):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            assert not second.done(), "the second writer did not wait for the first's commit"
        finally:
            release.set()
            await holder
        result = await second
        assert (result.allowed, result.reason, result.used) == (False, "user_quota", 1.0)


async def test_a_writer_waits_for_the_lock_as_long_as_sqlites_busy_timeout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the write lock too long: the write fails as unavailable (members
    hear "busy, try again"), it does not hang."""
    monkeypatch.setattr(storage.postgres, "LOCK_TIMEOUT_MS", 200)
    async with await Database.open(postgres_url) as db:
        other = await asyncpg.connect(postgres_url)
        try:
            async with other.transaction():
                await other.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
                with pytest.raises(StorageUnavailable, match="lock timeout"):
                    await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
                assert not await db.writable()
        finally:
            await other.close()
        await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 1


async def test_processes_migrating_at_once_apply_each_migration_once(postgres_url: str) -> None:
    opened = await asyncio.gather(*(Database.open(postgres_url) for _ in range(4)))
    try:
        assert {db.schema_version for db in opened} == {opened[0].schema_version}
        assert await opened[0].fetch_value("SELECT count(*) FROM schema_version") == 1
    finally:
        for db in opened:
            await db.close()


async def test_snowflakes_past_2_to_the_32_round_trip(postgres_url: str) -> None:
    async with await Repositories.open(postgres_url) as repos:
        job = await repos.jobs.create_submitting(
            guild_id=SNOWFLAKE, channel_id=SNOWFLAKE + 1, requester_id=SNOWFLAKE + 2,
            kind="imagine", action="imagine", prompt="p",
        )  # fmt: skip
        await repos.jobs.add_message(SNOWFLAKE + 3, job.id, SNOWFLAKE + 1, SNOWFLAKE)
        await repos.guilds.update_settings(SNOWFLAKE, audit_channel_id=SNOWFLAKE + 4)
        display = await repos.jobs.display(job.id)
        assert display is not None and display.message is not None
        assert display.message.message_id == SNOWFLAKE + 3
        assert (display.job.guild_id, display.job.requester_id) == (SNOWFLAKE, SNOWFLAKE + 2)
        settings = await repos.guilds.get(SNOWFLAKE)
        assert settings.audit_channel_id == SNOWFLAKE + 4
        columns = await repos.db.fetch_all(
            """SELECT column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('integer', 'real')"""
        )
        assert [tuple(c) for c in columns] == []  # every INTEGER is BIGINT, every REAL float8


async def test_text_sorts_the_same_whatever_the_servers_collation(
    postgres_server: PostgresServer,
) -> None:
    """A database created with a linguistic collation (most servers' default) sorts é before
    f; mjbot's lists keep SQLite's code-point order on every server."""
    url = postgres_server.dsn(postgres_server.new_database(icu_locale="en-US"))
    async with await Repositories.open(url) as repos:
        for word in ("fer", "ébène", "Zèbre", "a-b", "ab"):
            await repos.guilds.add_banned_word(1, word)
        assert await repos.guilds.banned_words(1) == sorted(["fer", "ébène", "zèbre", "a-b", "ab"])


async def test_writable_on_a_primary(postgres_url: str) -> None:
    async with await Database.open(postgres_url) as db:
        assert db.dialect == "postgresql"
        assert await db.writable()


async def test_wrong_password_is_one_sentence_without_it(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    wrong = postgres_url.replace(PASSWORD, "not-the-password-x9")
    with pytest.raises(StorageUnavailable) as caught:
        await Database.open(wrong)
    message = str(caught.value)
    where = f"postgresql://mjbot@127.0.0.1:{postgres_server.port}/"
    assert message.startswith(f"PostgreSQL refused the login to {where}")
    assert "check the user and password in storage.url" in message
    assert "not-the-password-x9" not in message and PASSWORD not in message
    assert caught.value.__cause__ is None  # no driver traceback carrying the DSN


async def test_missing_database_is_one_sentence(postgres_server: PostgresServer) -> None:
    with pytest.raises(StorageError) as caught:
        await Database.open(postgres_server.dsn("no_such_db"))
    assert str(caught.value) == (
        f"the database of postgresql://mjbot@127.0.0.1:{postgres_server.port}/no_such_db does "
        "not exist on that server: create it first (createdb, or CREATE DATABASE), owned by "
        "the user in storage.url"
    )


async def test_refused_connection_is_one_sentence() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StorageUnavailable) as caught:
        await Database.open(f"postgresql://mjbot:{PASSWORD}@127.0.0.1:{port}/mjbot")
    assert str(caught.value) == (
        f"cannot reach PostgreSQL at postgresql://mjbot@127.0.0.1:{port}/mjbot: connection "
        "refused (is the server running?)"
    )


async def test_a_cancelled_read_whose_connection_then_breaks_leaves_no_unretrieved_error(
    postgres_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopping bot cancels a read while its connection goes back to the pool; that release
    then fails (the connection broke). The failure is read, not left to asyncio's 'Task
    exception was never retrieved' (a bot stopping on PostgreSQL logged one)."""
    db = await Database.open(postgres_url)
    resetting, broken = asyncio.Event(), asyncio.Event()

    async def reset(self: asyncpg.Connection, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        resetting.set()
        await broken.wait()
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(asyncpg.Connection, "reset", reset)
    read = asyncio.create_task(db.fetch_value("SELECT 1"))
    await resetting.wait()
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    broken.set()
    monkeypatch.undo()
    await db.close()
    gc.collect()
    assert [r for r in caplog.records if "never retrieved" in r.getMessage()] == []


def test_a_server_left_by_a_killed_test_run_is_stopped_by_the_next_start(
    postgres_server: PostgresServer,
) -> None:
    """A run killed before its finalizers leaves its server running; the next start stops
    servers whose test process is gone, and only those."""
    abandoned = PostgresServer.start()
    try:
        gone = subprocess.Popen(["true"])
        gone.wait()  # a process that has ended: the killed test run
        (abandoned.root / OWNER).write_text(str(gone.pid))
        port = abandoned.port
        assert stop_abandoned(abandoned.bindir) == [abandoned.root]
        assert not abandoned.root.exists()
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert postgres_server.root.exists()  # this run's own server is left alone
        postgres_server.psql("SELECT 1")
    finally:
        abandoned.stop()
