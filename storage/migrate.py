"""`mjbot migrate`: copy every row of an mjbot SQLite database into another database (PostgreSQL,
or another SQLite file), ids included, in one target transaction, verified by counts per table.

The source is read from one snapshot (`storage.snapshot`) and never written. The target is
created or brought to the current schema with the project's own migrations, must hold no data
(unless `replace`), and gets the rows in foreign-key order, a batch at a time, so memory does not
grow with the database. Its id sequences then continue after the source's, past the ids of
deleted rows too: an old Discord button names a job id, which must never come back as another
job. Any failure, a count that differs included, rolls the whole copy back.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.backup import backup_database
from storage.db import MEMORY, Database, StorageError, Transaction, load_migrations, open_database
from storage.lock import AlreadyRunningError, InstanceLock
from storage.migrate_target import Convert, PostgresTarget, SqliteTarget
from storage.snapshot import VERSION_TABLE, Snapshot, Table, quote
from storage.url import SHAPE, DatabaseUrl, InvalidDatabaseUrl, is_url, parse_database_url

BATCH_ROWS = 1000


class MigrateError(Exception):
    """Nothing was written to the target; the message is one plain sentence for the operator."""


class LocationError(MigrateError):
    """A URL on the command line that names no database mjbot can copy from or to."""


@dataclass(frozen=True)
class Location:
    """A database named on the command line (`storage.url`'s forms: `sqlite:///path`, a plain
    path, or `postgresql://...`)."""

    url: DatabaseUrl

    @property
    def dialect(self) -> str:
        return self.url.dialect

    @property
    def path(self) -> str:
        """The SQLite file (for a SQLite database)."""
        return self.url.target

    @property
    def shown(self) -> str:
        """Safe to print: a path, or the URL without its password."""
        return self.url.display


def parse_location(text: str, option: str) -> Location:
    """The database `text` names, or LocationError saying why not (never echoing a password)."""
    if not text.strip():
        raise LocationError(f"{option} is empty: give {SHAPE}")
    scheme = text.split("://", 1)[0].lower() if is_url(text) else ""
    if scheme and scheme != "sqlite" and scheme not in ("postgresql", "postgres"):
        raise LocationError(f"{option} is a {scheme}:// URL; mjbot knows {SHAPE}")
    try:
        url = parse_database_url(text)
    except InvalidDatabaseUrl as exc:
        words = str(exc).replace("SQLite storage.url", "SQLite URL")
        raise LocationError(f"{option}: {words.replace('storage.url', 'the URL')}") from None
    if url.dialect == "sqlite" and url.target == MEMORY:
        raise LocationError(f"{option} names a database in memory, which ends with this command")
    return Location(url)


@dataclass(frozen=True)
class TableCount:
    name: str
    source: int
    target: int


@dataclass(frozen=True)
class Migrated:
    source: Location
    target: Location
    schema_version: int
    tables: list[TableCount]
    next_job_id: int
    seconds: float
    bot_running: bool = False  # a bot held the source's lock: the copy is of this moment
    bot_pid: int | None = None
    upgraded_from: int | None = None  # the source's older schema, brought up to date in a copy

    @property
    def rows(self) -> int:
        return sum(table.source for table in self.tables)


async def migrate(
    source_url: str, target_url: str, *, replace: bool = False, batch_rows: int = BATCH_ROWS
) -> Migrated:
    """Copy the SQLite database at `source_url` into `target_url` (see the module's docstring).

    Raises MigrateError (one sentence; the target's data is as it was) on any problem.
    """
    started = time.monotonic()
    source, target = locate(source_url, target_url)
    lock, running, pid = _lock_or_holder(source.path)
    target_lock = None
    try:
        if target.dialect == "sqlite":  # a bot on a PostgreSQL target: see _copy
            target_lock, busy, holder = _lock_or_holder(target.path)
            if busy:
                raise _bot_on_target(target, f"process {holder}" if holder else None)
        with tempfile.TemporaryDirectory(prefix="mjbot-migrate-") as scratch:
            snapshot, upgraded_from = await _open_snapshot(source.path, Path(scratch))
            with snapshot:
                counts, next_job_id = await _copy(snapshot, target, replace, batch_rows)
    finally:
        for held in (lock, target_lock):
            if held is not None:
                held.release()
    return Migrated(
        source=source,
        target=target,
        schema_version=snapshot.version,
        tables=counts,
        next_job_id=next_job_id,
        seconds=time.monotonic() - started,
        bot_running=running,
        bot_pid=pid,
        upgraded_from=upgraded_from,
    )


def locate(source_url: str, target_url: str) -> tuple[Location, Location]:
    """The two databases, or LocationError for a pair that cannot be copied."""
    source = parse_location(source_url, "--from")
    target = parse_location(target_url, "--to")
    if source.dialect != "sqlite":
        raise LocationError(
            "mjbot migrate copies from a SQLite database (--from sqlite:///path); copying out of "
            "PostgreSQL is not supported (between PostgreSQL servers use pg_dump and pg_restore)"
        )
    if not Path(source.path).is_file():
        raise MigrateError(f"there is no database at {source.path} (--from)")
    if target.dialect == "sqlite" and _same_file(source.path, target.path):
        raise LocationError("--from and --to name the same database; give another target")
    return source, target


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _bot_on_target(target: Location, who: str | None) -> MigrateError:
    return MigrateError(
        f"a bot{f' ({who})' if who else ''} is running on the target {target.shown}: stop it "
        "before migrating into its database"
    )


def _lock_or_holder(path: str) -> tuple[InstanceLock | None, bool, int | None]:
    """Hold the source's single-instance lock while copying, so the bot cannot start on it
    meanwhile; if a bot holds it, the copy goes on (of this moment): (None, True, its pid)."""
    try:
        return InstanceLock.acquire(path), False, None
    except AlreadyRunningError as exc:
        match = re.search(r"\(process (\d+)\)", str(exc))
        return None, True, int(match.group(1)) if match else None
    except StorageError:
        return None, False, None  # no lock file can be made there: no bot can hold one either


async def _open_snapshot(path: str, scratch: Path) -> tuple[Snapshot, int | None]:
    """The source's snapshot at the current schema. An older schema is brought up to date by
    the project's migrations in a copy made with SQLite's backup API (itself one snapshot): the
    source is never written, and an older mjbot may still be running on it."""
    latest = load_migrations()[-1].version
    try:
        snapshot = Snapshot(path)
    except StorageError as exc:
        raise MigrateError(str(exc)) from None
    if snapshot.version == latest:
        return snapshot, None
    older = snapshot.version
    snapshot.close()
    if older > latest:
        raise MigrateError(
            f"the database at {path} was written by a newer mjbot (schema {older}); migrate it "
            f"with that mjbot (this one knows schema {latest})"
        )
    copy = scratch / "source.sqlite3"
    try:
        await asyncio.to_thread(backup_database, path, copy)
        await (await Database.open(copy)).close()
        return Snapshot(copy), older
    except StorageError as exc:
        raise MigrateError(
            f"the source's schema {older} cannot be brought up to date: {exc}"
        ) from None


async def _open_target(target: Location) -> Database:
    try:
        return await open_database(target.url)
    except StorageError as exc:
        words = str(exc).replace("in storage.url", "in the --to URL")
        raise MigrateError(f"the target cannot be opened: {words}") from None


async def _copy(
    snapshot: Snapshot, target: Location, replace: bool, batch_rows: int
) -> tuple[list[TableCount], int]:
    tables = snapshot.tables()
    expected = {table.name: snapshot.count(table.name) for table in tables}
    high_water = snapshot.high_water()
    db = await _open_target(target)
    try:
        async with db.transaction() as tx:
            dest = PostgresTarget(tx) if db.dialect == "postgresql" else SqliteTarget(tx)
            converters = _converters(tables, await dest.columns(), dest)
            running = await dest.running_bots()
            if running:
                raise _bot_on_target(target, "; ".join(running))
            await _make_room(dest, tables, replace)
            for table in tables:
                try:
                    await _copy_table(snapshot, dest, table, converters[table.name], batch_rows)
                except StorageError as exc:
                    raise MigrateError(
                        f"copying the table {table.name} failed, so nothing was written to the "
                        f"target: {exc}"
                    ) from None
            counts = [
                TableCount(t.name, expected[t.name], await _count(tx, t.name)) for t in tables
            ]
            _verify(counts)
            next_job_id = 1
            for table in tables:
                if table.id_column is None or not table.autoincrement:
                    continue
                highest = await tx.fetch_value(
                    f"SELECT coalesce(max({quote(table.id_column)}), 0) FROM {quote(table.name)}"
                )
                after = max(high_water.get(table.name, 0), int(highest))
                await dest.continue_ids(table, after)
                if table.name == "jobs":
                    next_job_id = after + 1
    except StorageError as exc:
        raise MigrateError(
            f"the copy failed, so nothing was written to the target: {exc}"
        ) from None
    finally:
        await db.close()
    return counts, next_job_id


def _converters(
    tables: Sequence[Table], found: dict[str, dict[str, str]], dest: SqliteTarget
) -> dict[str, list[Convert | None]]:
    """Each source column's conversion for the target; the target must have every column."""
    converters: dict[str, list[Convert | None]] = {}
    for table in tables:
        columns = found.get(table.name)
        if columns is None:
            raise MigrateError(
                f"the target has no table {table.name}: its schema differs from the source's"
            )
        missing = [c for c in table.columns if c not in columns]
        if missing:
            raise MigrateError(
                f"the target's table {table.name} has no column {missing[0]}: its schema differs "
                "from the source's"
            )
        converters[table.name] = [dest.converter(columns[c]) for c in table.columns]
    return converters


async def _make_room(dest: SqliteTarget, tables: Sequence[Table], replace: bool) -> None:
    """Refuse a target that holds data (the schema version its migrations wrote does not
    count), or empty it with `replace`."""
    names = [t.name for t in tables]
    held = [(name, await _count(dest.tx, name)) for name in names if name != VERSION_TABLE]
    held = sorted(((n, c) for n, c in held if c), key=lambda item: -item[1])
    if held and not replace:
        listed = ", ".join(f"{name}: {count} row{'s' * (count != 1)}" for name, count in held[:3])
        more = f", and {len(held) - 3} more tables" if len(held) > 3 else ""
        raise MigrateError(
            f"the target already holds data ({listed}{more}): migrate copies into an empty "
            "database; add --replace to delete what is there and copy again"
        )
    if held:
        await dest.clear(names)
    else:
        await dest.clear([VERSION_TABLE])  # replaced by the source's own row


async def _copy_table(
    snapshot: Snapshot,
    dest: SqliteTarget,
    table: Table,
    converters: Sequence[Convert | None],
    batch_rows: int,
) -> None:
    width = len(table.columns)
    per_statement = max(1, min(batch_rows, dest.max_params // width))
    columns = ", ".join(quote(c) for c in table.columns)
    row_marks = "(" + ", ".join("?" for _ in table.columns) + ")"
    head = f"INSERT INTO {quote(table.name)} ({columns}) VALUES "
    # A row naming a later row of its own table (a parent job with a higher id: mjbot never
    # makes one, a database edited by hand might) gets that reference once both rows exist.
    own = table.columns.index(table.id_column) if table.id_column in table.columns else None
    refs = [table.columns.index(c) for c in table.self_refs] if own is not None else []
    later: list[tuple[str, Any, Any]] = []
    convert = [(i, c) for i, c in enumerate(converters) if c is not None]
    for batch in snapshot.batches(table, per_statement):
        params: list[Any] = []
        for row in batch:
            values = list(row)
            for i, change in convert:
                if values[i] is not None:
                    values[i] = change(values[i])
            for i in refs:
                if values[i] is not None and own is not None and values[i] >= values[own]:
                    later.append((table.columns[i], values[i], values[own]))
                    values[i] = None
            params.extend(values)
        await dest.tx.execute(head + ", ".join([row_marks] * len(batch)), params)
    for column, ref, row_id in later:
        await dest.tx.execute(
            f"UPDATE {quote(table.name)} SET {quote(column)} = ? "
            f"WHERE {quote(str(table.id_column))} = ?",
            (ref, row_id),
        )


def _verify(counts: Sequence[TableCount]) -> None:
    wrong = [c for c in counts if c.source != c.target]
    if wrong:
        listed = ", ".join(f"{c.name} {c.source} -> {c.target}" for c in wrong)
        raise MigrateError(
            f"the target's counts differ from the source's ({listed}), so nothing was written"
        )


async def _count(tx: Transaction, table: str) -> int:
    return int(await tx.fetch_value(f"SELECT count(*) FROM {quote(table)}"))
