"""The database, whichever engine holds it: one API over SQLite (storage/sqlite.py) and
PostgreSQL (storage/postgres.py), explicit write transactions one at a time, numbered migrations.

The repositories write SQLite's SQL with `?` placeholders; the PostgreSQL backend translates it
(storage/dialect.py). Drivers' exceptions never leave this package: every backend raises
`StorageError` (or a subclass below) with the driver's error as its cause.
"""

from __future__ import annotations

import abc
import contextvars
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from typing import Any, Protocol

from storage.dialect import Dialect, ddl_to_postgres
from storage.url import DatabaseUrl, InvalidDatabaseUrl, parse_database_url

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Params = Sequence[Any]

MEMORY = ":memory:"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_OVERRIDE_NAME = re.compile(r"^(\d{4}_[a-z0-9_]+)\.postgresql\.sql$")


class StorageError(Exception):
    """A database problem explained in one plain sentence."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or written now (locked, full, read-only, server down):
    nothing is wrong with the statement, trying again later may work."""


class ConstraintViolation(StorageError):
    """A statement broke a constraint (a unique key, a foreign key, a check)."""


class Row(Protocol):
    """A result row: by position or by column name (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class Migration:
    """One numbered schema step: `sql` is shared (SQLite's DDL, translated for PostgreSQL)
    unless `postgresql` holds the step's own PostgreSQL script (`NNNN_name.postgresql.sql`)."""

    version: int
    name: str
    sql: str
    postgresql: str | None = None

    def script(self, dialect: Dialect = "sqlite") -> str:
        if dialect == "sqlite":
            return self.sql
        return self.postgresql if self.postgresql is not None else ddl_to_postgres(self.sql)

    def statements(self, dialect: Dialect = "sqlite") -> list[str]:
        """Split the script into statements (the stdlib's executescript would commit first)."""
        statements: list[str] = []
        pending = ""
        for line in self.script(dialect).splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                statement = pending.strip()
                if statement.rstrip(";").strip():
                    statements.append(statement)
                pending = ""
        if pending.strip() and not _only_comments(pending):
            raise StorageError(f"migration {self.name} ends with an incomplete statement")
        return statements


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def load_migrations() -> list[Migration]:
    """The migrations shipped in the package, in order; numbering must have no gaps."""
    folder = resources.files("storage").joinpath("migrations")
    found: list[Migration] = []
    overrides: dict[str, str] = {}
    for entry in folder.iterdir():
        override = _OVERRIDE_NAME.match(entry.name)
        if override:
            overrides[f"{override.group(1)}.sql"] = entry.read_text("utf-8")
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    names = {m.name for m in found}
    for name in overrides:
        if name not in names:
            raise StorageError(f"migration {name} has a PostgreSQL version but no shared one")
    found = [Migration(m.version, m.name, m.sql, overrides.get(m.name)) for m in found]
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(f"migration {expected:04d} is missing before {migration.name}")
    return found


@dataclass(frozen=True)
class WriteResult:
    rowcount: int
    lastrowid: int | None  # SQLite only; use RETURNING to read a new row's id on both


class _Reads(abc.ABC):
    """`fetch_one` and `fetch_value`, read through `fetch_all` (a transaction's or a database's)."""

    @abc.abstractmethod
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]


class Transaction(_Reads):
    """Statements run inside one write transaction (`Database.transaction`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.active = True

    @abc.abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> WriteResult: ...

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> int: ...


_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "storage_transaction", default=None
)


class Database(_Reads):
    """One database: write transactions one at a time (across processes too), reads that never
    see another coroutine's uncommitted transaction, and migrations applied at open."""

    dialect: Dialect

    def __init__(self, location: str, clock: Clock) -> None:
        self.location = location  # what log lines and errors show: a path, or a URL without
        self.clock = clock  # its password
        self.schema_version = 0

    @classmethod
    async def open(
        cls,
        path: str | PathLike[str],
        *,
        clock: Clock = time.time,
        migrations: Sequence[Migration] | None = None,
    ) -> Database:
        """Open and migrate the database at `path`: a file path, ":memory:", or a storage URL
        (`sqlite:///...`, `postgresql://...`)."""
        return await open_database(path, clock=clock, migrations=migrations)

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def now(self) -> float:
        return self.clock()

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connections; calling it again does nothing."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception; one writer at a time, across every
        process using the database."""

    @abc.abstractmethod
    async def _fetch_outside(self, sql: str, params: Params) -> list[Row]:
        """A read outside any transaction of this task."""

    @abc.abstractmethod
    async def _read_version(self, tx: Transaction) -> int:
        """The schema version recorded in the database (0 when it has no schema yet)."""

    async def execute(self, sql: str, params: Params = ()) -> WriteResult:
        """Run one write statement in its own transaction (or the caller's open one)."""
        tx = self._open_transaction()
        if tx is not None:
            return await tx.execute(sql, params)
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        tx = self._open_transaction()
        if tx is not None:
            return await tx.fetch_all(sql, params)
        return await self._fetch_outside(sql, params)

    async def writable(self) -> bool:
        """Whether a write transaction can start and commit now (for /healthz)."""
        try:
            async with self.transaction():
                pass
        except StorageError:
            return False
        return True

    async def reclaim_space(self) -> None:
        """Hand free space back to the file system after a purge (SQLite; PostgreSQL's
        autovacuum does it by itself)."""
        return

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (SQLite; nothing on PostgreSQL)."""
        return

    def _open_transaction(self) -> Transaction | None:
        tx = _current.get()
        return tx if tx is not None and tx.active and tx.db is self else None

    def _enter_transaction(self, tx: Transaction) -> contextvars.Token[Transaction | None]:
        return _current.set(tx)

    def _check_not_nested(self) -> None:
        outer = _current.get()
        if outer is not None and outer.active and outer.db is self:
            raise StorageError("a transaction is already open in this task; nest the work instead")

    @staticmethod
    def _leave_transaction(tx: Transaction, token: contextvars.Token[Transaction | None]) -> None:
        tx.active = False
        _current.reset(token)

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        latest = migrations[-1].version if migrations else 0
        async with self.transaction() as tx:
            version = await self._read_version(tx)
        if version > latest:
            raise StorageError(
                f"the database at {self.location} was written by a newer mjbot (schema {version}); "
                f"upgrade mjbot or restore a backup (this mjbot knows schema {latest})"
            )
        for migration in migrations:
            if migration.version > version:
                await self._apply(migration)
        self.schema_version = latest

    async def _apply(self, migration: Migration) -> None:
        async with self.transaction() as tx:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if await self._read_version(tx) >= migration.version:
                return
            for statement in migration.statements(self.dialect):
                try:
                    await tx.execute(statement)
                except StorageError as exc:
                    raise StorageError(
                        f"migration {migration.name} failed and was rolled back: {exc}"
                    ) from exc
            await tx.execute("DELETE FROM schema_version")
            await tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (migration.version, self.clock()),
            )
        log.info(
            "database %s migrated to schema %d (%s)",
            self.location,
            migration.version,
            migration.name,
        )


async def open_database(
    url_or_path: str | PathLike[str] | DatabaseUrl,
    *,
    clock: Clock = time.time,
    migrations: Sequence[Migration] | None = None,
) -> Database:
    """Open (creating it if it is a new SQLite file) and migrate the database at `url_or_path`:
    a `storage.url` (`sqlite:///...`, `postgresql://...`), a file path, or ":memory:"."""
    try:
        url = (
            url_or_path if isinstance(url_or_path, DatabaseUrl) else parse_database_url(url_or_path)
        )
    except InvalidDatabaseUrl as exc:
        raise StorageError(str(exc)) from None
    steps = load_migrations() if migrations is None else migrations
    if url.dialect == "postgresql":
        from storage.postgres import PostgresDatabase

        return await PostgresDatabase.connect(url, clock=clock, migrations=steps)
    from storage.sqlite import SqliteDatabase

    return await SqliteDatabase.connect(url.target, clock=clock, migrations=steps)


__all__ = [
    "MEMORY",
    "Clock",
    "ConstraintViolation",
    "Database",
    "Migration",
    "Params",
    "Row",
    "StorageError",
    "StorageUnavailable",
    "Transaction",
    "WriteResult",
    "load_migrations",
    "open_database",
]
