"""Quota usage: atomic check-and-charge, refunds, and per-guild statistics."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace

from storage.db import Database, Transaction
from storage.jobs import insert_job
from storage.records import (
    UNFINISHED_SQL,
    ActionUsage,
    ChargeRefusal,
    ChargeResult,
    DayUsage,
    JobRecord,
    NewJob,
    Reservation,
    UsageSummary,
    UserUsage,
    job_columns,
)

__all__ = [
    "ChargeResult",
    "NewJob",
    "Reservation",
    "UsageRepository",
    "UsageSummary",
]


@dataclass
class _Tally:
    jobs: int = 0
    units: float = 0.0
    failures: int = 0


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def charge_if_allowed(
        self,
        guild_id: int,
        user_id: int,
        job_id: int | None,
        action: str,
        units: float,
        *,
        user_limit: float | None,
        guild_cap: float | None,
        since: float,
        max_user_in_flight: int | None,
        max_guild_in_flight: int | None,
    ) -> ChargeResult:
        """Check every limit and record the charge in one `BEGIN IMMEDIATE` transaction.

        A burst of clicks (from any number of coroutines or processes) cannot exceed a limit.
        Quotas count the usage rows since `since` that were not refunded; in-flight limits count
        the unfinished jobs admitted by an earlier charge, never `job_id` itself: a job counts as
        in flight from its charge until it finishes. None or 0 means "no limit", as in the
        configuration. A refused charge writes nothing (cancel the job then). `reserve_job`
        does the job creation and the charge in one go.
        """
        async with self.db.transaction() as tx:
            refusal = await self._refusal(
                tx,
                guild_id,
                user_id,
                job_id,
                units,
                user_limit=user_limit,
                guild_cap=guild_cap,
                since=since,
                max_user_in_flight=max_user_in_flight,
                max_guild_in_flight=max_guild_in_flight,
            )
            if refusal is not None:
                return refusal
            used = await self._charge(tx, guild_id, user_id, job_id, action, units, since)
        return ChargeResult(True, None, used, _limit_or_inf(user_limit))

    async def reserve_job(
        self,
        new: NewJob,
        *,
        units: float,
        user_quota: float | None,
        guild_cap: float | None,
        since: float,
        max_user_in_flight: int | None,
        max_guild_in_flight: int | None,
    ) -> Reservation:
        """Check the limits, record the job ('submitting') and charge it, all in one transaction.

        The requester is charged for `new.action`. Limits work as in `charge_if_allowed`.
        """
        if new.guild_id is None:
            raise ValueError("quotas are per guild: a job outside a guild cannot be charged")
        guild_id, user_id = new.guild_id, new.requester_id
        async with self.db.transaction() as tx:
            refusal = await self._refusal(
                tx,
                guild_id,
                user_id,
                None,
                units,
                user_limit=user_quota,
                guild_cap=guild_cap,
                since=since,
                max_user_in_flight=max_user_in_flight,
                max_guild_in_flight=max_guild_in_flight,
            )
            if refusal is not None:
                return Reservation(None, refusal.reason, refusal.used, refusal.limit)
            now = self.db.now()
            job = await insert_job(tx, replace(new, units=units), now)
            used = await self._charge(tx, guild_id, user_id, job.id, new.action, units, since)
            row = await tx.fetch_one(f"SELECT {job_columns()} FROM jobs WHERE id = ?", (job.id,))
        assert row is not None
        return Reservation(JobRecord.from_row(row), None, used, _limit_or_inf(user_quota))

    async def _charge(
        self,
        tx: Transaction,
        guild_id: int,
        user_id: int,
        job_id: int | None,
        action: str,
        units: float,
        since: float,
    ) -> float:
        """Write the usage row (and mark the job admitted); returns the member's usage after."""
        used = await self._used(tx, guild_id, user_id, since)
        now = self.db.now()
        await tx.execute(
            """INSERT INTO usage (guild_id, user_id, job_id, action, units, created_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (guild_id, user_id, job_id, action, units, now),
        )
        if job_id is not None:
            await tx.execute(
                "UPDATE jobs SET units = ?, charged_at = ?, updated_at = ? WHERE id = ?",
                (units, now, now, job_id),
            )
        return used + units

    async def _refusal(
        self,
        tx: Transaction,
        guild_id: int,
        user_id: int,
        job_id: int | None,
        units: float,
        *,
        user_limit: float | None,
        guild_cap: float | None,
        since: float,
        max_user_in_flight: int | None,
        max_guild_in_flight: int | None,
    ) -> ChargeResult | None:
        user_limit, guild_cap = _limit(user_limit), _limit(guild_cap)
        if user_limit is not None:
            used = await self._used(tx, guild_id, user_id, since)
            if used + units > user_limit:
                return _refused("user_quota", used, user_limit)
        if guild_cap is not None:
            used = await self._used(tx, guild_id, None, since)
            if used + units > guild_cap:
                return _refused("guild_cap", used, guild_cap)
        if max_user_in_flight:
            running = await self._in_flight(tx, guild_id, user_id, job_id)
            if running >= max_user_in_flight:
                return _refused("user_in_flight", running, max_user_in_flight)
        if max_guild_in_flight:
            running = await self._in_flight(tx, guild_id, None, job_id)
            if running >= max_guild_in_flight:
                return _refused("guild_in_flight", running, max_guild_in_flight)
        return None

    async def _used(
        self, tx: Transaction, guild_id: int, user_id: int | None, since: float
    ) -> float:
        if user_id is None:
            value = await tx.fetch_value(
                """SELECT coalesce(sum(units), 0) FROM usage
                   WHERE guild_id = ? AND created_at >= ? AND refunded = 0""",
                (guild_id, since),
            )
        else:
            value = await tx.fetch_value(
                """SELECT coalesce(sum(units), 0) FROM usage
                   WHERE guild_id = ? AND user_id = ? AND created_at >= ? AND refunded = 0""",
                (guild_id, user_id, since),
            )
        return float(value)

    async def _in_flight(
        self, tx: Transaction, guild_id: int, user_id: int | None, job_id: int | None
    ) -> int:
        user_clause = "" if user_id is None else "AND requester_id = ?"
        params = (guild_id,) if user_id is None else (guild_id, user_id)
        value = await tx.fetch_value(
            f"""SELECT count(*) FROM jobs INDEXED BY jobs_unfinished
                WHERE guild_id = ? {user_clause} AND state IN {UNFINISHED_SQL}
                  AND charged_at IS NOT NULL AND id IS NOT ?""",
            (*params, job_id),
        )
        return int(value)

    async def refund(self, job_id: int) -> float:
        """Give back what a job was charged (failed at the proxy, cancelled); idempotent."""
        async with self.db.transaction() as tx:
            units = float(
                await tx.fetch_value(
                    """SELECT coalesce(sum(units), 0) FROM usage
                       WHERE job_id = ? AND refunded = 0""",
                    (job_id,),
                )
            )
            await tx.execute(
                "UPDATE usage SET refunded = 1 WHERE job_id = ? AND refunded = 0", (job_id,)
            )
        return units

    async def usage_since(self, guild_id: int, user_id: int, since: float) -> float:
        """Units a member was charged since `since`, refunds excluded."""
        value = await self.db.fetch_value(
            """SELECT coalesce(sum(units), 0) FROM usage
               WHERE guild_id = ? AND user_id = ? AND created_at >= ? AND refunded = 0""",
            (guild_id, user_id, since),
        )
        return float(value)

    async def guild_usage_since(self, guild_id: int, since: float) -> float:
        """Units the whole guild was charged since `since`, refunds excluded."""
        value = await self.db.fetch_value(
            """SELECT coalesce(sum(units), 0) FROM usage
               WHERE guild_id = ? AND created_at >= ? AND refunded = 0""",
            (guild_id, since),
        )
        return float(value)

    async def stats(
        self, guild_id: int, since: float, *, utc_offset_seconds: int = 0
    ) -> UsageSummary:
        """Jobs, units and failures since `since`, per member, per action and per day."""
        day = _DAY[self.db.dialect]
        jobs = await self.db.fetch_all(
            f"""SELECT requester_id, action, {day} AS day, count(*) AS jobs,
                       count(*) FILTER (WHERE state = 'failure') AS failures
                FROM jobs WHERE guild_id = ? AND created_at >= ?
                GROUP BY requester_id, action, day""",
            (utc_offset_seconds, guild_id, since),
        )
        charged = await self.db.fetch_all(
            f"""SELECT user_id, action, {day} AS day, coalesce(sum(units), 0) AS units
                FROM usage WHERE guild_id = ? AND created_at >= ? AND refunded = 0
                GROUP BY user_id, action, day""",
            (utc_offset_seconds, guild_id, since),
        )
        users: defaultdict[int, _Tally] = defaultdict(_Tally)
        actions: defaultdict[str, _Tally] = defaultdict(_Tally)
        days: defaultdict[str, _Tally] = defaultdict(_Tally)
        for row in jobs:
            for tally in (users[row["requester_id"]], actions[row["action"]], days[row["day"]]):
                tally.jobs += row["jobs"]
                tally.failures += row["failures"]
        for row in charged:
            for tally in (users[row["user_id"]], actions[row["action"]], days[row["day"]]):
                tally.units += row["units"]
        return UsageSummary(
            guild_id=guild_id,
            since=since,
            jobs=sum(t.jobs for t in users.values()),
            units=sum(t.units for t in users.values()),
            failures=sum(t.failures for t in users.values()),
            per_user=tuple(
                UserUsage(uid, t.jobs, t.units, t.failures)
                for uid, t in sorted(users.items(), key=lambda i: (-i[1].units, -i[1].jobs, i[0]))
            ),
            per_action=tuple(
                ActionUsage(name, t.jobs, t.units, t.failures)
                for name, t in sorted(actions.items(), key=lambda i: (-i[1].jobs, i[0]))
            ),
            per_day=tuple(
                DayUsage(d, t.jobs, t.units, t.failures) for d, t in sorted(days.items())
            ),
        )


# The UTC day (YYYY-MM-DD) of `created_at` shifted by the offset, in each dialect.
_DAY = {
    "sqlite": "date(created_at + ?, 'unixepoch')",
    "postgresql": "to_char(to_timestamp(created_at + ?) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def _limit(value: float | None) -> float | None:
    return None if value is None or value <= 0 else float(value)


def _limit_or_inf(value: float | None) -> float:
    limit = _limit(value)
    return math.inf if limit is None else limit


def _refused(reason: ChargeRefusal, used: float, limit: float) -> ChargeResult:
    return ChargeResult(False, reason, float(used), float(limit))
