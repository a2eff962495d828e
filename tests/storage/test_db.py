"""Database: connection settings, transactions, reads, closing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import Database, StorageError


async def _pragmas(db: Database) -> dict[str, object]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "auto_vacuum")
    return {name: await db.fetch_value(f"PRAGMA {name}") for name in names}


async def test_file_database_settings_on_both_connections(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        expected = {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "auto_vacuum": 2,  # INCREMENTAL
        }
        assert await _pragmas(db) == expected  # the reader connection
        async with db.transaction() as tx:  # the writer connection
            for name, value in expected.items():
                assert await tx.fetch_value(f"PRAGMA {name}") == value
    assert db_path.parent.is_dir()


async def test_memory_database() -> None:
    async with await Database.open(":memory:") as db:
        pragmas = await _pragmas(db)
        assert pragmas["foreign_keys"] == 1
        assert pragmas["journal_mode"] == "memory"
        assert db.schema_version >= 1


async def test_transaction_commits(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
            await tx.executemany(
                "INSERT INTO banned_words (guild_id, word) VALUES (?, ?)", [(1, "b"), (1, "c")]
            )
            assert await tx.fetch_value("SELECT count(*) FROM banned_words") == 3
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 3


async def test_transaction_rolls_back_on_error(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
                raise RuntimeError("boom")
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 0
        await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'b')")
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 1


async def test_cancelled_transaction_rolls_back_and_frees_the_lock(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        inside = asyncio.Event()

        async def writer() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(writer())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 0
        await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'b')")
        assert await db.fetch_value("SELECT word FROM banned_words") == "b"


async def test_reads_do_not_see_another_coroutines_open_transaction(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        inserted, release = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
                inserted.set()
                await release.wait()

        task = asyncio.create_task(writer())
        await inserted.wait()
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 0
        release.set()
        await task
        assert await db.fetch_value("SELECT count(*) FROM banned_words") == 1


async def test_reads_inside_a_transaction_see_its_writes(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        async with db.transaction():
            await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'a')")
            assert await db.fetch_value("SELECT count(*) FROM banned_words") == 1


async def test_nested_transaction_is_refused_not_deadlocked(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        async with db.transaction():
            with pytest.raises(StorageError, match="already open"):
                async with db.transaction():
                    pass


async def test_transactions_are_serialised(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, '0')")

        async def bump() -> None:
            async with db.transaction() as tx:
                value = int(await tx.fetch_value("SELECT word FROM banned_words"))
                await asyncio.sleep(0)
                await tx.execute("UPDATE banned_words SET word = ?", (str(value + 1),))

        await asyncio.gather(*(bump() for _ in range(20)))
        assert await db.fetch_value("SELECT word FROM banned_words") == "20"


async def test_close_is_idempotent_and_final(database_url: str) -> None:
    db = await Database.open(database_url)
    await db.close()
    await db.close()
    with pytest.raises(StorageError, match="closed"):
        await db.fetch_value("SELECT 1")
    with pytest.raises(StorageError, match="closed"):
        await db.execute("DELETE FROM audit")


async def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=r"junk\.sqlite3"):
        await Database.open(path)
