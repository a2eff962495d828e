"""The fake Discord's controllable clock and its time-based snowflake generator."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000


class FakeClock:
    """Wall time (``source``, default ``time.time``) plus an offset that tests can ``advance``."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source
        self.offset = 0.0
        self._last_snowflake = 0

    def now(self) -> float:
        return self.source() + self.offset

    def __call__(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def snowflake(self) -> int:
        """A real, strictly increasing snowflake for the current fake time."""
        ms = int(self.now() * 1000) - DISCORD_EPOCH_MS
        value = max(ms << 22, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    def iso(self, ts: float | None = None) -> str:
        return datetime.fromtimestamp(self.now() if ts is None else ts, UTC).isoformat()


def snowflake_time(snowflake: int) -> float:
    """The Unix time (seconds) encoded in a snowflake."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000
