"""SQLite through aiosqlite: one writer connection behind an asyncio lock (`BEGIN IMMEDIATE`
also serialises writers of other processes), plus a read-only reader for file databases."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite

from storage.db import (
    MEMORY,
    Clock,
    ConstraintViolation,
    Database,
    Migration,
    Params,
    Row,
    StorageError,
    StorageUnavailable,
    Transaction,
    WriteResult,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000

# Result codes that mean "the database cannot be used now", not "the statement is wrong".
_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
}


def storage_error(exc: sqlite3.Error) -> StorageError:
    """The driver's error as ours, with the same words."""
    if isinstance(exc, sqlite3.IntegrityError):
        return ConstraintViolation(str(exc))
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if isinstance(exc, sqlite3.OperationalError) and (
        code in _UNAVAILABLE or (code == 0 and "locked" in str(exc))
    ):
        return StorageUnavailable(str(exc))
    return StorageError(str(exc))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise storage_error(exc) from exc


class SqliteTransaction(Transaction):
    """Statements run inside one `BEGIN IMMEDIATE` transaction on the writer connection."""

    def __init__(self, db: SqliteDatabase, conn: aiosqlite.Connection) -> None:
        super().__init__(db)
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> WriteResult:
        with _translated():
            async with self._conn.execute(sql, params) as cursor:
                return WriteResult(cursor.rowcount, cursor.lastrowid)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        with _translated():
            async with self._conn.executemany(sql, rows) as cursor:
                return cursor.rowcount

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        with _translated():
            return list(await self._conn.execute_fetchall(sql, params))


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
        raise StorageUnavailable(describe_failure(location, sqlite3.OperationalError()))


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


class SqliteDatabase(Database):
    """aiosqlite behind one asyncio lock for writes; file databases get a second, read-only
    connection so reads never see another coroutine's uncommitted transaction."""

    dialect = "sqlite"

    def __init__(
        self,
        path: str,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection | None,
        clock: Clock,
    ) -> None:
        super().__init__(path, clock)
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def connect(
        cls, location: str, *, clock: Clock, migrations: Sequence[Migration]
    ) -> SqliteDatabase:
        """Open (creating it and its folder if needed) and migrate the database at `location`."""
        if location != MEMORY:
            _prepare_folder(location)
        try:
            writer = await _connect(location)
        except sqlite3.Error as exc:
            raise StorageError(describe_failure(location, exc)) from exc
        db = cls(location, writer, None, clock)
        try:
            await db._migrate(migrations)
            if location != MEMORY:
                db._reader = await _connect(location)
                await db._reader.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            await db.close()
            raise StorageUnavailable(describe_failure(location, exc)) from exc
        except BaseException:
            await db.close()
            raise
        return db

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
        self._check_not_nested()
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            if self._closed:
                raise StorageError("the database is closed")
            tx = SqliteTransaction(self, self._writer)
            token = self._enter_transaction(tx)
            try:
                with _translated():
                    await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                except BaseException:
                    await self._rollback()
                    raise
                try:
                    with _translated():
                        await self._writer.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise
            finally:
                self._leave_transaction(tx, token)

    async def _rollback(self) -> None:
        # Statements run in order on the connection's thread, so this ROLLBACK follows whatever
        # was already queued, even when the caller was cancelled mid-statement.
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.OperationalError:
            log.debug("rollback found no open transaction on %s", self.path)

    async def _fetch_outside(self, sql: str, params: Params) -> list[Row]:
        if self._closed:
            raise StorageError("the database is closed")
        with _translated():
            if self._reader is not None:
                return list(await self._reader.execute_fetchall(sql, params))
            async with self._lock:  # an in-memory database has only the writer connection
                return list(await self._writer.execute_fetchall(sql, params))

    async def reclaim_space(self) -> None:
        """Hand the free pages back to the file system (the file shrinks; auto_vacuum=INCREMENTAL).

        Run through executescript: the stdlib's execute() steps this pragma only once, which
        frees a single page. Safe here because the lock guarantees no transaction is open.
        """
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            with _translated():
                await self._writer.executescript("PRAGMA incremental_vacuum;")

    async def checkpoint(self) -> None:
        """Copy the WAL back into the database file without waiting for readers (PASSIVE)."""
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            with _translated():
                await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")

    async def _read_version(self, tx: Transaction) -> int:
        exists = await tx.fetch_value(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if not exists:
            return 0
        return int(await tx.fetch_value("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        try:
            await super()._migrate(migrations)
        except StorageError as exc:
            cause = exc.__cause__
            if not isinstance(cause, sqlite3.DatabaseError):
                raise  # one of our sentences (a failed migration, a newer schema)
            if getattr(cause, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                raise StorageUnavailable(describe_failure(self.path, cause)) from cause
            raise StorageError(f"the database at {self.path} cannot be used: {cause}") from cause
