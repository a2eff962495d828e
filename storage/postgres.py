"""PostgreSQL through an asyncpg pool, with SQLite's guarantees.

Every write transaction begins with `pg_advisory_xact_lock(WRITE_LOCK_KEY)`: writers take turns
across every process sharing the database, exactly like SQLite's `BEGIN IMMEDIATE`, so a
check-then-charge (quotas) or a migration's version check reads what the previous writer
committed (READ COMMITTED: each statement sees every commit made before it started). The lock
goes with the transaction's end, a crash included. Within one process writers also queue on an
asyncio lock, so waiting writers never hold pool connections that reads need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from storage.db import (
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
from storage.dialect import to_postgres
from storage.url import DatabaseUrl

log = logging.getLogger(__name__)

# One fixed key ("mjbot" in ASCII) for pg_advisory_xact_lock(bigint): every writer of every
# process takes it. Other locks of mjbot (per-shard locks) must use other keys.
WRITE_LOCK_KEY = 0x6D6A626F74
POOL_MAX_SIZE = 10
CONNECT_TIMEOUT_S = 10.0
# How long a statement waits for a lock (the write lock included) before giving up, as SQLite's
# busy timeout: past it the write fails as StorageUnavailable ("database busy" for members).
LOCK_TIMEOUT_MS = 5000

_BEGIN = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"

_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

# Errors that mean "the server cannot be reached or written now", not "the statement is wrong".
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.LockNotAvailableError,  # lock_timeout
)


def storage_error(exc: BaseException, url: DatabaseUrl) -> StorageError:
    """The driver's error as ours, in the server's words (never the password)."""
    text = url.redact(str(exc)) or type(exc).__name__
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolation(text)
    if isinstance(exc, _UNAVAILABLE) or (
        isinstance(exc, asyncpg.InterfaceError) and "connection" in text and "closed" in text
    ):
        return StorageUnavailable(text)
    return StorageError(text)


def describe_failure(url: DatabaseUrl, exc: BaseException) -> str:
    """One sentence for a PostgreSQL database that cannot be opened."""
    where = url.display
    detail = url.redact(str(exc)).rstrip(".")
    if isinstance(
        exc,
        asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError,
    ):
        return (
            f"PostgreSQL refused the login to {where} ({detail}): check the user and password "
            "in storage.url"
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (
            f"the database of {where} does not exist on that server: create it first "
            "(createdb, or CREATE DATABASE), owned by the user in storage.url"
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach PostgreSQL at {where}: connection refused (is the server running?)"
    if isinstance(exc, TimeoutError):
        return f"cannot reach PostgreSQL at {where}: no answer within {CONNECT_TIMEOUT_S:.0f} s"
    if isinstance(exc, OSError):
        return f"cannot reach PostgreSQL at {where}: {exc.strerror or detail}"
    return f"cannot open the database at {where}: {detail or type(exc).__name__}"


def _rowcount(status: str) -> int:
    """The row count of a command tag ("UPDATE 3", "INSERT 0 1"); -1 when it has none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PostgresTransaction(Transaction):
    """Statements run on the transaction's own pool connection, holding the write lock."""

    db: PostgresDatabase

    def __init__(self, db: PostgresDatabase, conn: Any) -> None:
        super().__init__(db)
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> WriteResult:
        with self.db.translated():
            status = await self._conn.execute(to_postgres(sql), *params)
        return WriteResult(_rowcount(str(status)), None)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        return sum([(await self.execute(sql, row)).rowcount for row in rows])

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        with self.db.translated():
            return list(await self._conn.fetch(to_postgres(sql), *params))


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: DatabaseUrl, pool: Any, clock: Clock) -> None:
        super().__init__(url.display, clock)
        self.url = url
        self._pool = pool
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def connect(
        cls, url: DatabaseUrl, *, clock: Clock, migrations: Sequence[Migration]
    ) -> PostgresDatabase:
        """Connect a pool to the database of `url` and migrate it."""
        try:
            pool = await asyncpg.create_pool(
                url.target,
                min_size=1,
                max_size=POOL_MAX_SIZE,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={
                    "application_name": "mjbot",
                    "lock_timeout": f"{LOCK_TIMEOUT_MS}ms",
                },
            )
        except _DRIVER_ERRORS as exc:
            raise StorageUnavailable(describe_failure(url, exc)) from None
        db = cls(url, pool, clock)
        try:
            await db._migrate(migrations)
        except BaseException:
            await db.close()
            raise
        return db

    @contextmanager
    def translated(self) -> Iterator[None]:
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise storage_error(exc, self.url) from exc

    async def close(self) -> None:
        """Close the pool once no transaction is open; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT_S)
            except TimeoutError:
                self._pool.terminate()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN, the write lock, ... COMMIT, or ROLLBACK on any exception."""
        self._check_not_nested()
        if self._closed:
            raise StorageError("the database is closed")
        async with self._lock:
            if self._closed:
                raise StorageError("the database is closed")
            with self.translated():
                conn = await self._pool.acquire()
            tx = PostgresTransaction(self, conn)
            token = self._enter_transaction(tx)
            try:
                try:
                    with self.translated():
                        await conn.execute(_BEGIN)
                    yield tx
                except BaseException:
                    await self._rollback(conn)
                    raise
                try:
                    with self.translated():
                        await conn.execute("COMMIT")
                except BaseException:
                    await self._rollback(conn)
                    raise
            finally:
                self._leave_transaction(tx, token)
                await self._release(conn)

    async def _rollback(self, conn: Any) -> None:
        # After a cancelled statement asyncpg first waits for the server to cancel it.
        # A connection that cannot roll back is dropped: the server rolls back what a lost
        # connection left open (and frees the write lock with it).
        try:
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except asyncio.CancelledError:
            conn.terminate()
            raise
        except Exception:
            log.debug("rollback failed on %s; dropping the connection", self.location)
            conn.terminate()

    async def _release(self, conn: Any) -> None:
        """Give the connection back to the pool, even when this task is being cancelled.

        The release (asyncpg resets the connection, rolling back what is left open) runs in a
        task of its own that a cancellation of this one does not stop; its failure (a broken
        connection: asyncpg drops it) is read there, never left as an unretrieved exception."""
        release = asyncio.ensure_future(self._pool.release(conn))
        release.add_done_callback(self._released)
        try:
            await asyncio.shield(release)
        except asyncio.CancelledError:
            raise
        except Exception:  # already read and logged by _released
            return

    def _released(self, release: asyncio.Future[None]) -> None:
        if not release.cancelled() and release.exception() is not None:
            log.debug("a connection to %s was dropped: %s", self.location, release.exception())

    async def _fetch_outside(self, sql: str, params: Params) -> list[Row]:
        if self._closed:
            raise StorageError("the database is closed")
        with self.translated():
            conn = await self._pool.acquire()
        try:
            with self.translated():
                return list(await conn.fetch(to_postgres(sql), *params))
        finally:
            await self._release(conn)

    async def writable(self) -> bool:
        """A write transaction starts and commits, on a primary that accepts writes."""
        try:
            async with self.transaction() as tx:
                read_only = await tx.fetch_value(
                    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                )
        except StorageError:
            return False
        return not read_only

    async def _read_version(self, tx: Transaction) -> int:
        # Through pg_tables, i.e. this statement's snapshot: to_regclass() reads the backend's
        # catalog cache, which waiting on an advisory lock does not refresh, so a process that
        # waited while another migrated would still see no table and migrate again.
        exists = await tx.fetch_value(
            """SELECT count(*) FROM pg_catalog.pg_tables
               WHERE schemaname = current_schema() AND tablename = 'schema_version'"""
        )
        if not exists:
            return 0
        return int(await tx.fetch_value("SELECT coalesce(max(version), 0) FROM schema_version"))
