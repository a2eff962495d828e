"""The SQLite database: one writer connection, explicit transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Params = Sequence[Any]

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StorageError(Exception):
    """A database problem explained in one plain sentence."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Split the script into statements (the stdlib's executescript would commit first)."""
        statements: list[str] = []
        pending = ""
        for line in self.sql.splitlines(keepends=True):
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
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(f"migration {expected:04d} is missing before {migration.name}")
    return found


@dataclass(frozen=True)
class WriteResult:
    rowcount: int
    lastrowid: int | None


class Transaction:
    """Statements run inside one `BEGIN IMMEDIATE` transaction on the writer connection."""

    def __init__(self, db: Database, conn: aiosqlite.Connection) -> None:
        self.db = db
        self._conn = conn
        self.active = True

    async def execute(self, sql: str, params: Params = ()) -> WriteResult:
        async with self._conn.execute(sql, params) as cursor:
            return WriteResult(cursor.rowcount, cursor.lastrowid)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        async with self._conn.executemany(sql, rows) as cursor:
            return cursor.rowcount

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]


_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "storage_transaction", default=None
)


async def _connect(path: str) -> aiosqlite.Connection:
    pending = aiosqlite.connect(path, isolation_level=None)
    try:
        conn = await pending
    except BaseException:
        await _worker_stopped(pending)
        raise
    try:
        conn.row_factory = sqlite3.Row
        if path != MEMORY:
            pages = await conn.execute_fetchall("PRAGMA page_count")
            if next(iter(pages))[0] == 0:
                # auto_vacuum only takes effect while the file is still empty, and switching to WAL
                # writes the first page, so it has to come first; then purges can shrink the file.
                await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute_fetchall("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _worker_stopped(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to open.

    aiosqlite stops it without waiting; a thread still answering after `asyncio.run` closed
    the loop prints an "Event loop is closed" traceback on the way out.
    """
    thread = conn if isinstance(conn, threading.Thread) else getattr(conn, "_thread", None)
    if isinstance(thread, threading.Thread) and thread.is_alive():
        await asyncio.to_thread(thread.join, 5.0)


def _prepare_folder(location: str) -> None:
    """Create the database's folder; refuse a file this process cannot write, which SQLite
    would open read-only without a word and fail on at the first write."""
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    if os.path.isfile(location) and not os.access(location, os.W_OK):
        raise StorageError(describe_failure(location, sqlite3.OperationalError()))


def describe_failure(location: str, exc: sqlite3.Error) -> str:
    """One sentence for a database that cannot be opened or written."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    path = Path(location)
    if path.is_dir():
        return (
            f"{location} is a folder, not a database file; set storage.path to a file, "
            f"e.g. {path / 'mjbot.sqlite3'}"
        )
    folder = path.parent
    unwritable = folder.is_dir() and not os.access(folder, os.W_OK)
    if (
        code == sqlite3.SQLITE_READONLY
        or (path.is_file() and not os.access(path, os.W_OK))
        or (code == sqlite3.SQLITE_CANTOPEN and unwritable and path.exists())
    ):
        return (
            f"the database at {location} is read-only: the bot's user must be able to write the "
            "file and its folder (SQLite keeps -wal and -shm files next to it)"
        )
    if code == sqlite3.SQLITE_CANTOPEN and unwritable:
        return f"the folder {folder} is read-only: the database at {location} cannot be created"
    return f"cannot open the database at {location}: {exc}"


class Database:
    """aiosqlite behind one asyncio lock for writes; file databases get a second, read-only
    connection so reads never see another coroutine's uncommitted transaction."""

    def __init__(
        self,
        path: str,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection | None,
        clock: Clock,
    ) -> None:
        self.path = path
        self.clock = clock
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._closed = False
        self.schema_version = 0

    @classmethod
    async def open(
        cls,
        path: str | PathLike[str],
        *,
        clock: Clock = time.time,
        migrations: Sequence[Migration] | None = None,
    ) -> Database:
        """Open (creating it and its folder if needed) and migrate the database at `path`."""
        location = str(path)
        if location != MEMORY:
            _prepare_folder(location)
        try:
            writer = await _connect(location)
        except sqlite3.Error as exc:
            raise StorageError(describe_failure(location, exc)) from exc
        db = cls(location, writer, None, clock)
        try:
            await db._migrate(load_migrations() if migrations is None else migrations)
            if location != MEMORY:
                db._reader = await _connect(location)
                await db._reader.execute("PRAGMA query_only = ON")
        except BaseException:
            await db.close()
            raise
        return db

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def now(self) -> float:
        return self.clock()

    async def close(self) -> None:
        """Close both connections; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` on any exception; one at a time."""
        outer = _current.get()
        if outer is not None and outer.active and outer.db is self:
            raise StorageError("a transaction is already open in this task; nest the work instead")
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            if self._closed:
                raise StorageError("the database is closed")
            tx = Transaction(self, self._writer)
            token = _current.set(tx)
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                except BaseException:
                    await self._rollback()
                    raise
                try:
                    await self._writer.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise
            finally:
                tx.active = False
                _current.reset(token)

    async def _rollback(self) -> None:
        # Statements run in order on the connection's thread, so this ROLLBACK follows whatever
        # was already queued, even when the caller was cancelled mid-statement.
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.OperationalError:
            log.debug("rollback found no open transaction on %s", self.path)

    async def execute(self, sql: str, params: Params = ()) -> WriteResult:
        """Run one write statement in its own transaction (or the caller's open one)."""
        tx = self._open_transaction()
        if tx is not None:
            return await tx.execute(sql, params)
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        tx = self._open_transaction()
        if tx is not None:
            return await tx.fetch_all(sql, params)
        if self._closed:
            raise StorageError("the database is closed")
        if self._reader is not None:
            return list(await self._reader.execute_fetchall(sql, params))
        async with self._lock:  # an in-memory database has only the writer connection
            return list(await self._writer.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def writable(self) -> bool:
        """Whether a write transaction can start and commit now (for /healthz)."""
        try:
            async with self.transaction():
                pass
        except (StorageError, sqlite3.Error):
            return False
        return True

    async def reclaim_space(self) -> None:
        """Hand the free pages back to the file system (the file shrinks; auto_vacuum=INCREMENTAL).

        Run through executescript: the stdlib's execute() steps this pragma only once, which
        frees a single page. Safe here because the lock guarantees no transaction is open.
        """
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            await self._writer.executescript("PRAGMA incremental_vacuum;")

    async def checkpoint(self) -> None:
        """Copy the WAL back into the database file without waiting for readers (PASSIVE)."""
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")

    def _open_transaction(self) -> Transaction | None:
        tx = _current.get()
        return tx if tx is not None and tx.active and tx.db is self else None

    async def _read_version(self, tx: Transaction) -> int:
        exists = await tx.fetch_value(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if not exists:
            return 0
        return int(await tx.fetch_value("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        latest = migrations[-1].version if migrations else 0
        try:
            async with self.transaction() as tx:
                version = await self._read_version(tx)
            if version > latest:
                raise StorageError(
                    f"the database at {self.path} was written by a newer mjbot (schema {version}); "
                    f"upgrade mjbot or restore a backup (this mjbot knows schema {latest})"
                )
            for migration in migrations:
                if migration.version > version:
                    await self._apply(migration)
            self.schema_version = latest
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                raise StorageError(describe_failure(self.path, exc)) from exc
            raise StorageError(f"the database at {self.path} cannot be used: {exc}") from exc

    async def _apply(self, migration: Migration) -> None:
        async with self.transaction() as tx:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if await self._read_version(tx) >= migration.version:
                return
            for statement in migration.statements():
                try:
                    await tx.execute(statement)
                except sqlite3.Error as exc:
                    raise StorageError(
                        f"migration {migration.name} failed and was rolled back: {exc}"
                    ) from exc
            await tx.execute("DELETE FROM schema_version")
            await tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (migration.version, self.clock()),
            )
        log.info(
            "database %s migrated to schema %d (%s)", self.path, migration.version, migration.name
        )
