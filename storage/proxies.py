"""Servers' own proxies: rows never changed once written, the one each server uses now.

The API key arrives and leaves encrypted (`bot/keys.py` encrypts); this module never sees it in
clear and never logs a row. A row no server uses and no kept job points at is deleted by the
retention sweep (`purge_unused`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from storage.db import Database, Row

log = logging.getLogger(__name__)

__all__ = ["ProxyRecord", "ProxyRepository", "own_proxy_jobs"]


@dataclass(frozen=True)
class ProxyRecord:
    id: int
    guild_id: int
    base_url: str
    path_prefix: str
    auth_style: str
    backend: str
    key_encrypted: str
    key_hint: str
    created_by: int
    created_at: float

    def __repr__(self) -> str:  # never the (encrypted) key in a log line or a traceback
        return (
            f"ProxyRecord(id={self.id}, guild_id={self.guild_id}, base_url={self.base_url!r}, "
            f"path_prefix={self.path_prefix!r}, auth_style={self.auth_style!r}, "
            f"backend={self.backend!r})"
        )

    @classmethod
    def from_row(cls, row: Row) -> ProxyRecord:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            base_url=row["base_url"],
            path_prefix=row["path_prefix"],
            auth_style=row["auth_style"],
            backend=row["backend"],
            key_encrypted=row["key_encrypted"],
            key_hint=row["key_hint"],
            created_by=row["created_by"],
            created_at=row["created_at"],
        )


class ProxyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        guild_id: int,
        *,
        base_url: str,
        path_prefix: str,
        auth_style: str,
        backend: str,
        key_encrypted: str,
        key_hint: str,
        created_by: int,
    ) -> ProxyRecord:
        """Record a new proxy and make it the server's, in one transaction."""
        now = self.db.now()
        async with self.db.transaction() as tx:
            row = await tx.fetch_one(
                """INSERT INTO proxies (guild_id, base_url, path_prefix, auth_style, backend,
                       key_encrypted, key_hint, created_by, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                (
                    guild_id,
                    base_url,
                    path_prefix,
                    auth_style,
                    backend,
                    key_encrypted,
                    key_hint,
                    created_by,
                    now,
                ),
            )
            assert row is not None
            await tx.execute(
                """INSERT INTO guild_proxies (guild_id, proxy_id) VALUES (?, ?)
                   ON CONFLICT (guild_id) DO UPDATE SET proxy_id = excluded.proxy_id""",
                (guild_id, row["id"]),
            )
        return ProxyRecord.from_row(row)

    async def clear(self, guild_id: int) -> bool:
        """The server goes back to the operator's default; its old rows stay for its jobs."""
        result = await self.db.execute("DELETE FROM guild_proxies WHERE guild_id = ?", (guild_id,))
        return result.rowcount > 0

    async def purge_unused(self) -> int:
        """Delete the proxies no server uses now and no kept job points at, their encrypted
        keys with them (after a server cleared or replaced its proxy and the retention purge
        took the jobs made through it). Returns how many went."""
        result = await self.db.execute(
            """DELETE FROM proxies
               WHERE id NOT IN (SELECT proxy_id FROM guild_proxies)
                 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.proxy_id = proxies.id)"""
        )
        if result.rowcount:
            log.info("deleted %d proxies (and keys) no server or kept job uses", result.rowcount)
        return result.rowcount

    async def get(self, proxy_id: int) -> ProxyRecord | None:
        row = await self.db.fetch_one("SELECT * FROM proxies WHERE id = ?", (proxy_id,))
        return None if row is None else ProxyRecord.from_row(row)

    async def current(self, guild_id: int) -> ProxyRecord | None:
        row = await self.db.fetch_one(
            """SELECT proxies.* FROM guild_proxies
               JOIN proxies ON proxies.id = guild_proxies.proxy_id
               WHERE guild_proxies.guild_id = ?""",
            (guild_id,),
        )
        return None if row is None else ProxyRecord.from_row(row)

    async def all(self) -> list[ProxyRecord]:
        """Every proxy ever saved (a few per server): jobs may still point at any of them."""
        return [ProxyRecord.from_row(r) for r in await self.db.fetch_all("SELECT * FROM proxies")]

    async def reencrypt_all(self, convert: Callable[[str], str]) -> int:
        """Replace every stored key by `convert(key)` in one transaction (all or nothing)."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch_all("SELECT id, key_encrypted FROM proxies")
            for row in rows:
                await tx.execute(
                    "UPDATE proxies SET key_encrypted = ? WHERE id = ?",
                    (convert(row["key_encrypted"]), row["id"]),
                )
        return len(rows)


async def own_proxy_jobs(db: Database, guild_id: int, since: float) -> dict[str, int]:
    """Jobs of a server since `since` that ran on one of its own proxies and did not fail, per
    action: its own account paid for them, not the operator's (`/mjadmin stats` cost)."""
    rows = await db.fetch_all(
        """SELECT action, count(*) AS jobs FROM jobs
           WHERE guild_id = ? AND created_at >= ? AND proxy_id IS NOT NULL
             AND state != 'failure'
           GROUP BY action""",
        (guild_id, since),
    )
    return {str(row["action"]): int(row["jobs"]) for row in rows}
