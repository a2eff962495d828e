"""A read-only snapshot of an mjbot SQLite database, for `mjbot migrate`: one read transaction
(WAL lets the bot keep writing meanwhile; every query sees the same moment), its tables in
foreign-key order, and their rows a batch at a time."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.db import StorageError

VERSION_TABLE = "schema_version"
BUSY_TIMEOUT_MS = 5000  # as the bot's own connections wait for a lock


@dataclass
class Table:
    name: str
    columns: list[str]
    id_column: str | None = None  # the INTEGER PRIMARY KEY (the rowid), if any
    autoincrement: bool = False  # its ids come from a sequence (an identity on PostgreSQL)
    parents: set[str] = field(default_factory=set)  # tables its foreign keys point at
    self_refs: list[str] = field(default_factory=list)  # columns naming another row's id


class Snapshot:
    """The source database as it was when the snapshot was opened; never written."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("BEGIN")  # the snapshot starts with the first read, ends with ROLLBACK
            self._conn = conn
            self.version = self._version()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise StorageError(f"the database at {path} cannot be read: {exc}") from None

    def _version(self) -> int:
        names = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
        if VERSION_TABLE not in names or "jobs" not in names:
            raise sqlite3.DatabaseError("it is not an mjbot database (no schema_version table)")
        row = self._conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")
        self._conn.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def tables(self) -> list[Table]:
        """Every table, each after the tables its foreign keys point at."""
        schema = self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
        ).fetchall()
        found: dict[str, Table] = {}
        for name, sql in schema:
            info = self._conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()
            keys = [row for row in info if row[5]]
            table = Table(name, [row[1] for row in info])
            if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER":
                table.id_column = keys[0][1]
                table.autoincrement = "AUTOINCREMENT" in str(sql).upper()
            for fk in self._conn.execute(f"PRAGMA foreign_key_list({quote(name)})"):
                if fk[2] == name:
                    table.self_refs.append(fk[3])
                else:
                    table.parents.add(fk[2])
            found[name] = table
        return parents_first(found)

    def count(self, table: str) -> int:
        return int(self._conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])

    def high_water(self) -> dict[str, int]:
        """AUTOINCREMENT's marks: the largest id each table ever handed out (deleted rows too)."""
        try:
            rows = self._conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
        except sqlite3.OperationalError:  # no AUTOINCREMENT table
            return {}
        return {str(name): int(seq) for name, seq in rows}

    def batches(self, table: Table, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """The table's rows in rowid order (parents before children), `size` at a time."""
        columns = ", ".join(quote(c) for c in table.columns)
        cursor = self._conn.execute(f"SELECT {columns} FROM {quote(table.name)} ORDER BY rowid")
        try:
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()


def parents_first(tables: dict[str, Table]) -> list[Table]:
    """`tables` in their given order, except that each comes after the tables it refers to."""
    ordered: list[Table] = []
    placed: set[str] = set()
    pending = list(tables.values())
    while pending:
        ready = [t for t in pending if not (t.parents & tables.keys()) - placed]
        if not ready:  # never in mjbot's schema
            names = ", ".join(t.name for t in pending)
            raise StorageError(f"the tables {names} refer to each other in a cycle")
        ordered.extend(ready)
        placed.update(t.name for t in ready)
        pending = [t for t in pending if t.name not in placed]
    return ordered


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
