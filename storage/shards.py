"""Which guilds a process serves: Discord's shard rule, `(guild_id >> 22) % shard_count`.

Pure (no I/O, no discord): the bot builds one `ShardScope` from `discord.shard_count` and
`discord.shard_ids`, and the repositories turn it into a WHERE clause that reads the same in
SQLite and PostgreSQL. Direct messages (no guild) belong to shard 0, as on Discord.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import gcd

__all__ = ["ALL_SHARDS", "MAX_SHARD_COUNT", "Claim", "ShardScope", "overlaps", "shard_of"]

# The largest discord.shard_count: a claim (shard_count, shard_id) must fit one int4 lock key.
MAX_SHARD_COUNT = 32767


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard that receives a guild's events (0 for direct messages)."""
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardScope:
    """The shards one process runs; `shard_count` 0 means every guild (automatic sharding)."""

    shard_count: int = 0
    shard_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.shard_count <= MAX_SHARD_COUNT:
            raise ValueError(f"shard_count must be from 0 to {MAX_SHARD_COUNT}")
        if self.shard_ids and self.shard_count == 0:
            raise ValueError("shard_ids need a shard_count")
        if any(not 0 <= s < self.shard_count for s in self.shard_ids):
            raise ValueError(f"shard ids must be in range({self.shard_count})")
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard ids must not repeat")
        object.__setattr__(self, "shard_ids", tuple(sorted(self.shard_ids)))

    @classmethod
    def of(cls, shard_count: int, shard_ids: Iterable[int] = ()) -> ShardScope:
        return cls(shard_count, tuple(shard_ids))

    @property
    def everything(self) -> bool:
        """This process serves every guild (automatic sharding, or all shards listed)."""
        return self.shard_count == 0 or len(self.shards) == self.shard_count

    @property
    def shards(self) -> tuple[int, ...]:
        """The shard ids this process runs (empty under automatic sharding: all of them)."""
        if self.shard_count == 0:
            return ()
        return self.shard_ids or tuple(range(self.shard_count))

    @property
    def runs_chores(self) -> bool:
        """Process-wide chores (purges) run in exactly one process: the one with shard 0."""
        return self.everything or 0 in self.shards

    def owns(self, guild_id: int | None) -> bool:
        """Whether this process receives (and so serves) the guild's events."""
        if self.everything:
            return True
        return shard_of(guild_id, self.shard_count) in self.shards

    def sql(self, column: str = "guild_id") -> tuple[str, tuple[int, ...]]:
        """A WHERE condition (with `?` placeholders) selecting the rows of this scope's guilds.

        Portable: `>>`, `%`, `coalesce` and `IN` read the same in SQLite and PostgreSQL; a NULL
        guild (a direct message) counts as shard 0. Everything: `1 = 1`."""
        if self.everything:
            return "1 = 1", ()
        marks = ", ".join("?" for _ in self.shards)
        return f"(coalesce({column}, 0) >> 22) % ? IN ({marks})", (self.shard_count, *self.shards)

    def claims(self) -> tuple[Claim, ...]:
        """What this process claims: one (shard_count, shard_id) per shard it runs, or the one
        claim of every guild (automatic sharding: shard_count 0)."""
        if self.shard_count == 0:
            return (Claim(0, 0),)
        return tuple(Claim(self.shard_count, s) for s in self.shards)

    def describe(self) -> str:
        """For logs and refusals: 'all shards' or 'shards 0, 2 of 4'."""
        if self.shard_count == 0:
            return "all shards (automatic)"
        if self.everything:
            return f"all {self.shard_count} shards"
        word = "shard" if len(self.shards) == 1 else "shards"
        return f"{word} {', '.join(map(str, self.shards))} of {self.shard_count}"


ALL_SHARDS = ShardScope()


@dataclass(frozen=True, order=True)
class Claim:
    """One shard a process runs, as `(shard_count, shard_id)`; (0, 0) claims every guild."""

    shard_count: int
    shard_id: int

    @property
    def key(self) -> int:
        """The claim as one non-negative int4 (an advisory lock key)."""
        return self.shard_count * (MAX_SHARD_COUNT + 1) + self.shard_id

    @classmethod
    def from_key(cls, key: int) -> Claim:
        return cls(*divmod(key, MAX_SHARD_COUNT + 1))

    def describe(self) -> str:
        if self.shard_count == 0:
            return "all shards"
        return f"shard {self.shard_id} of {self.shard_count}"


def overlaps(a: Claim, b: Claim) -> bool:
    """Whether some guild is on both claims' shards (then two processes would serve it).

    With equal counts only the same shard; with different counts (a resharding, or a mistake) a
    guild is on both when the ids agree modulo gcd(count_a, count_b) (Chinese remainders)."""
    if a.shard_count == 0 or b.shard_count == 0:
        return True
    step = gcd(a.shard_count, b.shard_count)
    return a.shard_id % step == b.shard_id % step
