"""The outgoing budget for job messages: who may talk to Discord next, and on which route.

Discord allows a bot 50 requests per second across its REST routes (interaction callbacks and
interaction webhooks are exempt) and limits message creates and edits per channel (the
``X-RateLimit-*`` headers say how much). Every job-message request asks the outbox for a slot:

- channel routes (``POST/PATCH /channels/{id}/messages``, the bot token) count against a global
  rate kept under Discord's (``discord.global_requests_per_second``) and against the channel's
  bucket as the headers describe it, one request in flight per bucket;
- an interaction token's webhook routes are their own bucket and bound by no global limit: one
  request in flight per token;
- waiting slots are granted by priority (final results and failures, then first job messages,
  then progress edits), oldest first within a priority; at most ``max_in_flight`` at once, so
  the HTTP connection pool always has room for interaction responses, which never wait here;
  progress edits and audit lines never hold the last quarter of them, so a final result does
  not wait for a slow progress edit to end;
- progress edits, on every route together, at most ``PROGRESS_PER_SECOND``: when many jobs
  move at once their edits wait (merged per job by the presenter) instead of crowding out the
  finals.

The outbox learns the buckets from every answer through an aiohttp trace hook on discord.py's
session (``Client(http_trace=...)``), and counts the 429s it sees by scope.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

_CHANNEL_MESSAGES = re.compile(r"/channels/(\d+)/messages$")
_CHANNEL_MESSAGE = re.compile(r"/channels/(\d+)/messages/\d+$")
GLOBAL_WINDOW = 1.0
# Progress edits on every route together, per second: with a thousand jobs the edits of one
# poll cycle would otherwise leave in one burst (857 requests in one second were measured), and
# finals would wait behind them for the event loop. 1,000 jobs edited every 3 s need 333 a
# second, so this only spreads the bursts; a job whose edit waits shows its newest state when
# its turn comes.
PROGRESS_PER_SECOND = 300.0


class Priority(enum.IntEnum):
    """Lower goes first. Interaction responses never queue here at all."""

    FINAL = 1  # final results and failures
    FIRST = 2  # a job's first message
    PROGRESS = 3  # progress edits (merged per job by the presenter)
    AUDIT = 4  # audit-log lines (a burst of finished jobs must not draw 429s on their channel)


@dataclass(frozen=True)
class Route:
    """Where a request goes: a channel bucket (``create``/``edit``) or an interaction token."""

    kind: str  # "create" | "edit" | "token"
    key: int | str  # the channel id, or the token's message id

    @property
    def global_limited(self) -> bool:
        return self.kind != "token"

    @staticmethod
    def create(channel_id: int) -> Route:
        return Route("create", channel_id)

    @staticmethod
    def edit(channel_id: int) -> Route:
        return Route("edit", channel_id)

    @staticmethod
    def token(key: str) -> Route:
        return Route("token", key)


@dataclass
class _Bucket:
    """What the last answer on a channel route said about its bucket."""

    limit: int = 1
    remaining: int = 1
    reset_at: float = 0.0

    def available(self, now: float) -> bool:
        return self.remaining > 0 or now >= self.reset_at

    def take(self, now: float) -> None:
        if now >= self.reset_at and self.remaining <= 0:
            self.remaining = self.limit
        self.remaining -= 1


@dataclass
class _Waiter:
    priority: int
    route: Route
    future: asyncio.Future[None] = field(repr=False)


class Outbox:
    """Grants slots for job-message requests within Discord's limits (see the module doc)."""

    def __init__(
        self,
        *,
        requests_per_second: float = 40.0,
        progress_per_second: float = PROGRESS_PER_SECOND,
        max_in_flight: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = max(1, int(requests_per_second))
        self.progress_rate = max(1, int(progress_per_second))
        self._progress_sent: deque[float] = deque()  # grant times of progress edits, last second
        self.max_in_flight = max(1, max_in_flight)
        self._clock = clock
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self._busy: set[Route] = set()
        self._in_flight = 0
        # Routes held by progress edits and audit lines: they leave `reserve` slots to the rest.
        self._low: set[Route] = set()
        self.reserve = self.max_in_flight // 4
        self._sent: deque[float] = deque()  # grant times of global-limited slots, last second
        self._global_pause_until = 0.0
        # One queue per priority, oldest first (a cancelled waiter is dropped when reached).
        self._queues: dict[int, deque[_Waiter]] = {int(p): deque() for p in sorted(Priority)}
        self._timer: asyncio.TimerHandle | None = None
        self.rate_limited: Counter[str] = Counter()  # 429s seen, by X-RateLimit-Scope
        self.granted: Counter[Priority] = Counter()

    # ---- slots ----------------------------------------------------------------------------
    async def acquire(self, priority: Priority, route: Route) -> None:
        """Wait for a slot for one request on `route`; `release(route)` when it is answered."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(int(priority), route, loop.create_future())
        self._queues[waiter.priority].append(waiter)
        self._dispatch()
        try:
            await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(route)  # granted just as the waiter was cancelled
            else:
                waiter.future.cancel()
            raise
        self.granted[priority] += 1

    def release(self, route: Route) -> None:
        self._busy.discard(route)
        self._low.discard(route)
        self._in_flight -= 1
        self._dispatch()

    @asynccontextmanager
    async def slot(self, priority: Priority, route: Route) -> AsyncIterator[None]:
        """A slot for one request on `route`, held while the request runs."""
        await self.acquire(priority, route)
        try:
            yield
        finally:
            self.release(route)

    @property
    def waiting(self) -> int:
        return sum(1 for q in self._queues.values() for w in q if not w.future.done())

    def _global_ready_at(self, now: float) -> float:
        """When a global-limited request may go next (``now`` if it may go now)."""
        while self._sent and now - self._sent[0] >= GLOBAL_WINDOW:
            self._sent.popleft()
        ready = now if len(self._sent) < self.rate else self._sent[0] + GLOBAL_WINDOW
        return max(ready, self._global_pause_until)

    def _progress_ready_at(self, now: float) -> float:
        while self._progress_sent and now - self._progress_sent[0] >= GLOBAL_WINDOW:
            self._progress_sent.popleft()
        if len(self._progress_sent) < self.progress_rate:
            return now
        return self._progress_sent[0] + GLOBAL_WINDOW

    def _ready_at(self, route: Route, now: float) -> float:
        """When a request on `route` may go, as far as the route's own limits say."""
        if route in self._busy:
            return float("inf")  # freed by a release, not by time
        if not route.global_limited:
            return now
        ready = self._global_ready_at(now)
        assert isinstance(route.key, int)
        bucket = self._buckets.get((route.kind, route.key))
        if bucket is not None and not bucket.available(now):
            ready = max(ready, bucket.reset_at)
        return ready

    def _dispatch(self) -> None:
        """Grant every slot that may go now, best priority first; arm a timer for the rest.

        A limit shared by a whole priority (the progress budget, the reserve) ends that
        priority's turn at once: a thousand waiting edits are not each looked at again on every
        release."""
        now = self._clock()
        wake = float("inf")
        for level, queue in self._queues.items():
            low = level >= Priority.PROGRESS
            kept: list[_Waiter] = []
            while queue and self._in_flight < self.max_in_flight:
                if low and len(self._low) >= self.max_in_flight - self.reserve:
                    break  # freed by a release
                if level == Priority.PROGRESS:
                    ready = self._progress_ready_at(now)
                    if ready > now:
                        wake = min(wake, ready)
                        break
                waiter = queue.popleft()
                if waiter.future.done():
                    continue  # cancelled while waiting
                ready = self._ready_at(waiter.route, now)
                if ready > now:
                    wake = min(wake, ready)
                    kept.append(waiter)
                    continue
                self._grant(waiter, now)
            queue.extendleft(reversed(kept))
        self._arm(wake, now)

    def _grant(self, waiter: _Waiter, now: float) -> None:
        route = waiter.route
        self._busy.add(route)
        self._in_flight += 1
        if waiter.priority >= Priority.PROGRESS:
            self._low.add(route)
        if waiter.priority == Priority.PROGRESS:
            self._progress_sent.append(now)
        if route.global_limited:
            self._sent.append(now)
            assert isinstance(route.key, int)
            bucket = self._buckets.get((route.kind, route.key))
            if bucket is not None:
                bucket.take(now)
        waiter.future.set_result(None)

    def _arm(self, wake: float, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wake != float("inf"):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, wake - now), self._dispatch)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- learning from the answers ----------------------------------------------------------
    def observe(self, method: str, path: str, status: int, headers: Any) -> None:
        """Learn a channel bucket from an answer's headers; count 429s by scope."""
        now = self._clock()
        if status == 429:
            scope = headers.get("X-RateLimit-Scope") or (
                "global" if headers.get("X-RateLimit-Global") else "user"
            )
            self.rate_limited[scope] += 1
            log.warning("Discord answered 429 (%s) to %s %s", scope, method, _redact(path))
            if scope == "global":
                retry = _float(headers.get("Retry-After"), 1.0)
                self._global_pause_until = max(self._global_pause_until, now + retry)
        route = None
        if method == "POST" and (match := _CHANNEL_MESSAGES.search(path)):
            route = ("create", int(match[1]))
        elif method == "PATCH" and (match := _CHANNEL_MESSAGE.search(path)):
            route = ("edit", int(match[1]))
        if route is None or "X-RateLimit-Remaining" not in headers:
            return
        bucket = self._buckets.setdefault(route, _Bucket())
        bucket.limit = int(_float(headers.get("X-RateLimit-Limit"), 1))
        bucket.remaining = int(_float(headers.get("X-RateLimit-Remaining"), 0))
        bucket.reset_at = now + _float(headers.get("X-RateLimit-Reset-After"), 0.0)
        if status == 429:
            bucket.remaining = 0
        self._dispatch_soon()

    def _dispatch_soon(self) -> None:
        try:
            asyncio.get_running_loop().call_soon(self._dispatch)
        except RuntimeError:  # pragma: no cover - only without a running loop
            pass

    def trace_config(self, trace: aiohttp.TraceConfig | None = None) -> aiohttp.TraceConfig:
        """An aiohttp hook that shows the outbox every answer of discord.py's session (added to
        `trace` when given: discord.py takes one trace config)."""

        async def on_end(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            response = params.response
            self.observe(params.method, params.url.path, response.status, response.headers)

        trace = trace or aiohttp.TraceConfig()
        trace.on_request_end.append(on_end)
        return trace


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


_TOKEN_IN_PATH = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/]+")


def _redact(path: str) -> str:
    """Interaction tokens stay out of the logs."""
    return _TOKEN_IN_PATH.sub(r"\1<token>", path)
