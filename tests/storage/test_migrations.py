"""Migrations: fresh database, re-open, newer schema refused, each step atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Database, JobRepository, Migration, StorageError, load_migrations

TABLES = {
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
}


async def _tables(db: Database) -> set[str]:
    if db.dialect == "postgresql":
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(r[0]) for r in await db.fetch_all(sql)}


def test_migrations_ship_with_the_package() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "0001_initial.sql"
    assert all(m.statements() for m in migrations)


def test_statements_split_on_complete_statements_only() -> None:
    migration = Migration(
        1,
        "0001_t.sql",
        "-- a comment; not a statement\nCREATE TABLE t (x TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 'a;b';\nEND;\n-- end\n",
    )
    statements = migration.statements()
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


async def test_fresh_database_gets_every_table(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        assert TABLES <= await _tables(db)
        assert db.schema_version == len(load_migrations())
        assert await db.fetch_value("SELECT version FROM schema_version") == db.schema_version


async def test_reopen_is_idempotent_and_keeps_data(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        await db.execute("INSERT INTO banned_words (guild_id, word) VALUES (1, 'x')")
    async with await Database.open(database_url) as db:
        assert await db.fetch_value("SELECT count(*) FROM schema_version") == 1
        assert await db.fetch_value("SELECT word FROM banned_words") == "x"


async def test_newer_database_is_refused_with_a_clear_sentence(database_url: str) -> None:
    async with await Database.open(database_url) as db:
        await db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StorageError) as caught:
        await Database.open(database_url)
    message = str(caught.value)
    assert "written by a newer mjbot (schema 99)" in message
    assert "upgrade mjbot or restore a backup" in message


async def test_later_migrations_apply_in_order_once(database_url: str) -> None:
    shipped = len(load_migrations())
    a, b = shipped + 1, shipped + 2
    extra = [
        *load_migrations(),
        Migration(a, f"{a:04d}_a.sql", "CREATE TABLE a (x INTEGER);"),
        Migration(
            b, f"{b:04d}_b.sql", "INSERT INTO a (x) VALUES (1);\nCREATE TABLE b (y INTEGER);"
        ),
    ]
    async with await Database.open(database_url, migrations=extra[:a]) as db:
        assert db.schema_version == a
    async with await Database.open(database_url, migrations=extra) as db:
        assert db.schema_version == b
        assert await db.fetch_value("SELECT version FROM schema_version") == b
    async with await Database.open(database_url, migrations=extra) as db:
        assert await db.fetch_value("SELECT count(*) FROM a") == 1


async def test_a_failing_migration_leaves_nothing_behind(database_url: str) -> None:
    shipped = len(load_migrations())
    n = shipped + 1
    broken = [
        *load_migrations(),
        Migration(
            n,
            f"{n:04d}_broken.sql",
            "CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);",
        ),
    ]
    with pytest.raises(StorageError, match=rf"{n:04d}_broken\.sql failed.*nowhere"):
        await Database.open(database_url, migrations=broken)
    async with await Database.open(database_url) as db:
        assert db.schema_version == shipped
        assert await db.fetch_value("SELECT version FROM schema_version") == shipped
        assert "half" not in await _tables(db)


async def test_indexes_serve_the_hot_queries(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        plans = {
            "message": "SELECT jobs.* FROM messages JOIN jobs ON jobs.id = messages.job_id "
            "WHERE messages.message_id = 1",
            "usage": "SELECT total(units) FROM usage WHERE guild_id = 1 AND user_id = 2 "
            "AND created_at >= 0 AND refunded = 0",
            "guild_jobs": "SELECT * FROM jobs WHERE guild_id = 1 AND created_at >= 0",
        }
        for name, sql in plans.items():
            plan = " ".join(str(r[3]) for r in await db.fetch_all(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan, (name, plan)


async def test_a_members_job_count_in_one_server_reads_only_the_index(db_path: Path) -> None:
    """/history counts a member's jobs in one server: with the server in the index the count
    never visits the table (it visited every job of theirs in every server before schema 5)."""
    async with await Database.open(db_path) as db:
        sql = (
            "SELECT count(*) FROM jobs INDEXED BY jobs_requester_guild_created "
            "WHERE requester_id = 1 AND guild_id = 2 AND created_at >= 0"
        )
        plan = " ".join(str(r[3]) for r in await db.fetch_all(f"EXPLAIN QUERY PLAN {sql}"))
        assert "COVERING INDEX jobs_requester_guild_created" in plan, plan
        assert "guild_id=?" in plan, plan


async def test_jobs_read_the_same_after_a_column_is_added(database_url: str) -> None:
    extra = [
        *load_migrations(),
        Migration(
            len(load_migrations()) + 1, "9999_extra.sql", "ALTER TABLE jobs ADD COLUMN x TEXT;"
        ),
    ]
    async with await Database.open(database_url, migrations=extra) as db:
        jobs = JobRepository(db)
        job = await jobs.create_submitting(
            guild_id=1, channel_id=2, requester_id=3, kind="imagine", action="imagine", prompt="p"
        )
        assert await jobs.get(job.id) == job
        assert job.prompt == "p" and job.updated_at == job.created_at
