"""`mjbot migrate`: every row of every table copied with its ids into SQLite and a real
PostgreSQL, verified by counts, in one transaction; ids continue after the source's; a refusal
or a failure leaves the target's data as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import Database, Repositories, load_migrations
from storage.lock import InstanceLock
from storage.migrate import MigrateError, migrate
from storage.shard_lock import NAMESPACE
from storage.snapshot import Snapshot
from storage.url import parse_database_url
from tests.storage.migrate_data import GUILD, MESSAGE_ID, TOKEN, USER, populate
from tests.storage.support import FakeClock

ALL_TABLES = {
    "schema_version",
    "jobs",
    "messages",
    "button_uses",
    "guild_settings",
    "quota_overrides",
    "user_settings",
    "usage",
    "bans",
    "banned_words",
    "audit",
    "proxies",
    "guild_proxies",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def open_url(url: str) -> Database:
    return await Database.open(url, clock=FakeClock())


async def table_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    db = await open_url(url)
    try:
        return sorted(
            (tuple(row) for row in await db.fetch_all(f"SELECT * FROM {table}")), key=repr
        )
    finally:
        await db.close()


async def test_every_row_of_every_table_moves_with_its_ids(tmp_path: Path, target_url: str) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    source_url = f"sqlite:///{source.path}"
    result = await migrate(source_url, target_url, batch_rows=1)  # one statement a row
    assert {t.name for t in result.tables} == ALL_TABLES
    assert [(t.source, t.target) for t in result.tables if t.source != t.target] == []
    assert all(t.source > 0 for t in result.tables), result.tables
    for table in sorted(ALL_TABLES):
        assert await table_rows(target_url, table) == await table_rows(source_url, table), table
    assert result.next_job_id == source.purged_id + 1
    assert not result.bot_running
    if target_url.startswith("sqlite:"):  # the same high-water marks, and only for AUTOINCREMENT
        assert await table_rows(target_url, "sqlite_sequence") == await table_rows(
            source_url, "sqlite_sequence"
        )
        assert {row[0] for row in await table_rows(target_url, "sqlite_sequence")} == {
            "jobs",
            "usage",
            "audit",
            "proxies",
        }
    async with Repositories.over(await open_url(target_url)) as repos:
        job = await repos.jobs.job_for_message(MESSAGE_ID)  # the message's buttons still work
        assert job is not None and job.id == source.parent_id and job.proxy_id == source.proxy_id
        message = await repos.jobs.get_message(MESSAGE_ID)
        assert message is not None and message.interaction_token == TOKEN
        assert await repos.jobs.child_for_button(source.parent_id, 0) == source.child_id
        assert await repos.guilds.banned_words(GUILD) == ["forbidden"]
        assert (await repos.guilds.get(GUILD)).allowed_channels == frozenset({100, 101})
        fresh = await repos.jobs.create_submitting(
            guild_id=GUILD,
            channel_id=1,
            requester_id=USER,
            kind="imagine",
            action="imagine",
            prompt="new",
        )
        # Past the purged job's id too: an old button naming it must not find a new job.
        assert fresh.id == source.purged_id + 1
        audit = await repos.guilds.add_audit(GUILD, USER, "unban")
        assert audit.id == 2


async def test_a_target_that_holds_data_is_refused_unless_replaced(
    tmp_path: Path, target_url: str
) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    async with Repositories.over(await open_url(target_url)) as repos:
        await repos.guilds.add_banned_word(5, "kept")
        await repos.guilds.add_banned_word(5, "also kept")
    with pytest.raises(MigrateError) as refused:
        await migrate(f"sqlite:///{source.path}", target_url)
    assert str(refused.value) == (
        "the target already holds data (banned_words: 2 rows): migrate copies into an empty "
        "database; add --replace to delete what is there and copy again"
    )
    assert await table_rows(target_url, "banned_words") == [(5, "also kept"), (5, "kept")]
    assert await table_rows(target_url, "jobs") == []
    result = await migrate(f"sqlite:///{source.path}", target_url, replace=True)
    assert {t.name: t.target for t in result.tables}["banned_words"] == 1
    assert await table_rows(target_url, "banned_words") == [(GUILD, "forbidden")]


async def test_a_failure_mid_copy_leaves_the_target_empty(tmp_path: Path, target_url: str) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    with closing(
        sqlite3.connect(source.path, isolation_level=None)
    ) as conn:  # a damaged source: a message of no job
        conn.execute(
            "INSERT INTO messages (message_id, job_id, channel_id, created_at) "
            "VALUES (7, 999, 1, 0)"
        )
    with pytest.raises(MigrateError) as failed:
        await migrate(f"sqlite:///{source.path}", target_url)
    assert str(failed.value).startswith(
        "copying the table messages failed, so nothing was written to the target: "
    )
    for table in ALL_TABLES - {"schema_version"}:  # jobs were copied before messages
        assert await table_rows(target_url, table) == [], table


async def test_a_parent_job_with_a_higher_id_is_linked_once_both_exist(
    tmp_path: Path, target_url: str
) -> None:
    path = tmp_path / "old.sqlite3"
    await (await Database.open(path)).close()
    with closing(
        sqlite3.connect(path, isolation_level=None)
    ) as conn:  # never made by mjbot; a database edited by hand
        for job_id, parent in ((9, None), (3, 9)):
            conn.execute(
                "INSERT INTO jobs (id, parent_job_id, channel_id, requester_id, kind, action, "
                "created_at, updated_at) VALUES (?, ?, 1, 1, 'imagine', 'imagine', 0, 0)",
                (job_id, parent),
            )
    await migrate(f"sqlite:///{path}", target_url)
    db = await open_url(target_url)
    try:
        rows = await db.fetch_all("SELECT id, parent_job_id FROM jobs ORDER BY id")
    finally:
        await db.close()
    assert [tuple(row) for row in rows] == [(3, 9), (9, None)]


async def test_an_older_source_is_brought_up_to_date_in_a_copy_never_in_place(
    tmp_path: Path, target_url: str
) -> None:
    path = tmp_path / "old.sqlite3"
    old = await Database.open(path, migrations=load_migrations()[:3])
    await old.execute(
        "INSERT INTO jobs (channel_id, requester_id, kind, action, created_at, updated_at) "
        "VALUES (1, 1, 'imagine', 'imagine', 0, 0)"
    )
    await old.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = await migrate(str(path), target_url)
    assert (result.upgraded_from, result.schema_version) == (3, len(load_migrations()))
    assert {t.name: t.target for t in result.tables}["jobs"] == 1
    assert "proxies" in {t.name for t in result.tables}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(3,)]


async def test_a_source_from_a_newer_mjbot_is_refused(tmp_path: Path, target_url: str) -> None:
    path = tmp_path / "old.sqlite3"
    await (await Database.open(path)).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    latest = len(load_migrations())
    with pytest.raises(MigrateError) as refused:
        await migrate(str(path), target_url)
    assert str(refused.value) == (
        f"the database at {path} was written by a newer mjbot (schema 99); migrate it with that "
        f"mjbot (this one knows schema {latest})"
    )


async def test_a_running_bot_is_named_and_the_copy_is_of_that_moment(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    lock = InstanceLock.acquire(str(source.path))  # the bot's single-instance lock
    try:
        result = await migrate(str(source.path), str(tmp_path / "new.sqlite3"))
    finally:
        assert lock is not None
        lock.release()
    assert (result.bot_running, result.bot_pid) == (True, os.getpid())


async def test_the_lock_is_held_while_copying_and_released_after(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    result = await migrate(str(source.path), str(tmp_path / "new.sqlite3"))
    assert not result.bot_running
    lock = InstanceLock.acquire(str(source.path))  # free again: the bot can start
    assert lock is not None
    lock.release()


async def test_the_snapshot_does_not_see_what_is_committed_after_it_began(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    with Snapshot(source.path) as snapshot:
        jobs = snapshot.count("jobs")
        async with Repositories.over(await Database.open(source.path)) as bot:
            await bot.guilds.add_audit(GUILD, USER, "written while copying")
            await bot.jobs.create_submitting(
                guild_id=GUILD,
                channel_id=1,
                requester_id=USER,
                kind="imagine",
                action="imagine",
                prompt="later",
            )
        table = next(t for t in snapshot.tables() if t.name == "jobs")
        assert sum(len(rows) for rows in snapshot.batches(table, 1)) == jobs
        assert snapshot.count("audit") == 1
    with Snapshot(source.path) as later:
        assert (later.count("jobs"), later.count("audit")) == (jobs + 1, 2)


async def test_a_count_that_differs_rolls_the_copy_back(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    target = tmp_path / "new.sqlite3"
    db = await Database.open(target)  # a target that loses rows: what counting is there for
    await db.execute(
        "CREATE TRIGGER lose_audit AFTER INSERT ON audit BEGIN "
        "DELETE FROM audit WHERE id = NEW.id; END"
    )
    await db.close()
    with pytest.raises(MigrateError) as failed:
        await migrate(str(source.path), str(target))
    assert str(failed.value) == (
        "the target's counts differ from the source's (audit 1 -> 0), so nothing was written"
    )
    for table in ALL_TABLES - {"schema_version"}:
        assert await table_rows(f"sqlite:///{target}", table) == [], table


@asynccontextmanager
async def bot_running_on(url: str) -> AsyncIterator[tuple[str, str]]:
    """Hold what a running bot holds on `url`; yields how the refusal names it and the target."""
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///")
        lock = InstanceLock.acquire(path)  # as `mjbot run` holds it
        assert lock is not None
        try:
            yield f"process {os.getpid()}", path
        finally:
            lock.release()
        return
    bot = await asyncpg.connect(url, server_settings={"application_name": "mjbot b:7"})
    try:
        await bot.execute("SELECT pg_advisory_lock($1, 0)", NAMESPACE)  # a shard lock
        yield f"mjbot b:7, PostgreSQL backend {bot.get_server_pid()}", str(parse_database_url(url))
    finally:
        await bot.close()


async def test_a_target_a_bot_is_running_on_is_refused(tmp_path: Path, target_url: str) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    async with bot_running_on(target_url) as (who, shown):
        with pytest.raises(MigrateError) as refused:
            await migrate(str(source.path), target_url)
    assert str(refused.value) == (
        f"a bot ({who}) is running on the target {shown}: stop it before migrating into its "
        "database"
    )
    result = await migrate(str(source.path), target_url)  # once it stopped
    assert result.rows == 15
