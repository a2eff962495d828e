"""Where `mjbot migrate` writes: what differs between a SQLite and a PostgreSQL target (their
catalogues, column types, a bot running on it, emptying, id sequences), all inside the copy's
one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from storage.db import Transaction
from storage.shard_lock import NAMESPACE
from storage.snapshot import Table, quote

Convert = Callable[[Any], Any]


class SqliteTarget:
    """A SQLite target; `PostgresTarget` says what differs. Everything runs inside the copy's
    one transaction."""

    # Bound parameters per statement: SQLite's limit (32766 since 3.32), PostgreSQL's (32767).
    max_params = 32766

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    async def columns(self) -> dict[str, dict[str, str]]:
        """Each table's columns and their declared types, lower case."""
        tables = await self.tx.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\'"
        )
        found: dict[str, dict[str, str]] = {}
        for (name,) in tables:
            info = await self.tx.fetch_all(f"PRAGMA table_info({quote(name)})")
            found[name] = {row[1]: str(row[2]).lower() for row in info}
        return found

    def converter(self, declared: str) -> Convert | None:
        return None  # SQLite stores what it is given

    async def running_bots(self) -> list[str]:
        """Bots running on this database (on SQLite, `migrate` holds the file's lock instead)."""
        return []

    async def clear(self, tables: Sequence[str]) -> None:
        """Delete every row of `tables` (children first)."""
        for name in reversed(tables):
            await self.tx.execute(f"DELETE FROM {quote(name)}")

    async def continue_ids(self, table: Table, after: int) -> None:
        """Make new ids of `table` start after `after`."""
        current = await self.tx.fetch_value(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)
        )
        if current is None:
            await self.tx.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table.name, after)
            )
        elif int(current) < after:
            await self.tx.execute(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (after, table.name)
            )


class PostgresTarget(SqliteTarget):
    max_params = 32767

    async def columns(self) -> dict[str, dict[str, str]]:
        rows = await self.tx.fetch_all(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        found: dict[str, dict[str, str]] = {}
        for table, column, declared in rows:
            found.setdefault(str(table), {})[str(column)] = str(declared).lower()
        return found

    def converter(self, declared: str) -> Convert | None:
        """asyncpg takes only the Python type of each column: SQLite's loose typing may have
        left a whole number stored as a float in an INTEGER column, or the reverse."""
        if declared in ("bigint", "integer", "smallint"):
            return _whole_number
        if declared in ("double precision", "real", "numeric"):
            return float
        return None

    async def running_bots(self) -> list[str]:
        """The processes holding shard locks on this database (storage/shard_lock.py)."""
        rows = await self.tx.fetch_all(
            "SELECT DISTINCT l.pid, a.application_name FROM pg_locks AS l "
            "LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = ? AND l.pid <> pg_backend_pid() ORDER BY l.pid",
            (NAMESPACE,),
        )
        return [f"{name or 'a process'}, PostgreSQL backend {pid}" for pid, name in rows]

    async def clear(self, tables: Sequence[str]) -> None:
        await self.tx.execute("TRUNCATE " + ", ".join(quote(name) for name in tables))

    async def continue_ids(self, table: Table, after: int) -> None:
        # setval(seq, n) makes nextval n + 1; a sequence cannot hold 0: (1, false) gives 1.
        await self.tx.fetch_value(
            "SELECT setval(pg_get_serial_sequence(?, ?), ?::bigint, ?::boolean)",
            (table.name, table.id_column, max(after, 1), after > 0),
        )


def _whole_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
