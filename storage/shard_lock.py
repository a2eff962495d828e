"""One process per shard on PostgreSQL: session advisory locks on a dedicated connection.

SQLite keeps its file lock (storage/lock.py: one process per file). On PostgreSQL several
processes share the database, each running some shards; each holds, for its whole life,
`pg_advisory_lock(NAMESPACE, claim)` for every shard it runs (`storage.shards.Claim`: the
shard and the shard count, or "every guild" under automatic sharding) on one connection of its
own. The server drops a session's locks when its connection ends, a kill -9 included, so a
crashed process never keeps its shards.

Claims are checked for overlap, not only equality: a process running shard 1 of 2 and another
running shard 3 of 4 would serve the same guilds (a resharding gone wrong), and "all shards"
overlaps everything. Advisory locks belong to one database: two installations on one server
never meet. Claimers take turns (`ORDER_KEY`), read the claims other sessions hold from
`pg_locks`, and refuse with one sentence naming the shards and the process holding them
(`application_name`: "mjbot <host>:<pid>").

The two-int4 form of the advisory lock functions never meets the bigint keys (storage/postgres.py
takes one for its writers): PostgreSQL keeps the two key spaces apart.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from storage.db import StorageUnavailable
from storage.lock import AlreadyRunningError
from storage.postgres import describe_failure
from storage.shards import Claim, ShardScope, overlaps
from storage.url import DatabaseUrl, parse_database_url

__all__ = ["NAMESPACE", "ORDER_KEY", "ShardLock", "ShardsTaken", "application_name"]

log = logging.getLogger(__name__)

NAMESPACE = 0x6D6A7368  # "mjsh": the first int4 of every shard lock
ORDER_KEY = 2**31 - 1  # claimers take turns on (NAMESPACE, ORDER_KEY); claims are below it
CONNECT_TIMEOUT_S = 10.0

_HELD = """
SELECT l.objid::bigint AS key, l.pid, a.application_name
FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint <> $2 AND l.pid <> pg_backend_pid()
"""


def application_name() -> str:
    """How this process shows in pg_stat_activity (and in another process's refusal)."""
    return f"mjbot {socket.gethostname()}:{os.getpid()}"[:63]


@dataclass(frozen=True)
class Holder:
    """Another session's claim, as pg_locks and pg_stat_activity show it."""

    claim: Claim
    pid: int
    application_name: str | None

    def describe(self) -> str:
        name = self.application_name or "another process"
        return f"{name}, PostgreSQL backend {self.pid}"


class ShardsTaken(AlreadyRunningError):
    """Another process runs some of these shards: one sentence for the operator (exit 2: a
    setup to change, like a refused configuration)."""

    exit_code = 2

    def __init__(self, scope: ShardScope, holders: Sequence[Holder]) -> None:
        mine = [c for c in scope.claims() if any(overlaps(c, h.claim) for h in holders)]
        theirs = sorted({f"{h.claim.describe()} ({h.describe()})" for h in holders})
        what = _join([c.describe() for c in mine])
        verb = "is" if len(mine) == 1 and mine[0].shard_count else "are"
        one = len({h.pid for h in holders}) == 1
        super().__init__(
            f"{what[0].upper()}{what[1:]} {verb} already run by "
            f"{'another mjbot process' if one else 'other mjbot processes'} on this database: "
            f"{_join(theirs)}; stop {'it' if one else 'them'}, or give this process other "
            "discord.shard_ids (the same discord.shard_count in every process)."
        )
        self.holders = tuple(holders)


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class ShardLock:
    """The claims of this process, held on their own connection until `release`."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        scope: ShardScope,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._connection = connection
        self.scope = scope
        self._on_lost = on_lost
        if on_lost is not None:
            connection.add_termination_listener(self._lost)

    def _lost(self, connection: asyncpg.Connection) -> None:
        log.error("the connection holding %s was lost", self.scope.describe())
        if self._on_lost is not None:
            self._on_lost()

    @classmethod
    async def acquire(
        cls,
        where: DatabaseUrl | str,
        scope: ShardScope,
        *,
        on_lost: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> ShardLock:
        """Claim `scope`'s shards or raise ShardsTaken; StorageUnavailable when the server
        cannot be reached (in storage/postgres.py's words, without the password). `on_lost`
        runs if the connection, and so the claim, is lost later."""
        url = parse_database_url(where) if isinstance(where, str) else where
        try:
            connection = await asyncpg.connect(
                url.target,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={"application_name": name or application_name()},
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageUnavailable(describe_failure(url, exc)) from None
        try:
            await cls._claim(connection, scope)
        except BaseException:
            await connection.close()
            raise
        log.info("holding %s on PostgreSQL", scope.describe())
        return cls(connection, scope, on_lost)

    @staticmethod
    async def _claim(connection: asyncpg.Connection, scope: ShardScope) -> None:
        await connection.execute("SELECT pg_advisory_lock($1, $2)", NAMESPACE, ORDER_KEY)
        try:
            rows = await connection.fetch(_HELD, NAMESPACE, ORDER_KEY)
            held = [
                Holder(Claim.from_key(int(r["key"])), r["pid"], r["application_name"]) for r in rows
            ]
            clashes = [h for h in held if any(overlaps(c, h.claim) for c in scope.claims())]
            if clashes:
                raise ShardsTaken(scope, clashes)
            for claim in scope.claims():
                got = await connection.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", NAMESPACE, claim.key
                )
                if not got:  # held by a session pg_locks did not show us: refuse all the same
                    raise ShardsTaken(scope, [Holder(claim, 0, None)])
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1, $2)", NAMESPACE, ORDER_KEY)

    @property
    def held(self) -> bool:
        return not self._connection.is_closed()

    async def release(self) -> None:
        """Give the shards back (closing the connection drops every lock it holds)."""
        if self._on_lost is not None:
            self._connection.remove_termination_listener(self._lost)
        if not self._connection.is_closed():
            await self._connection.close()
