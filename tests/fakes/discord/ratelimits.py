"""Discord's REST rate limits as the fake enforces them: per-route buckets, the global limit, 429s.

Modelled on Discord's documentation (topics/rate-limits) and what discord.py 2.7 reads:
every REST answer carries ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; over a
limit the answer is a 429 with ``Retry-After``, ``X-RateLimit-Scope`` (``user`` or ``global``),
``X-RateLimit-Global`` for the global limit, a ``Via`` header (discord.py retries only then) and
the JSON body ``{"message", "retry_after", "global"}``.

Buckets are fixed windows that open at their first request. Routes are keyed by their top-level
resource (the major parameter): a channel's message creates share one bucket, its edits another,
and an interaction token is its own webhook bucket. Interaction callbacks and the interaction
webhook routes (``/webhooks/{application}/{token}/...``) are not bound by the global limit.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from .wire import json_response

Route = tuple[str, str, str]  # (bucket name, major parameter, route template)

_CALLBACK = re.compile(r"^/interactions/(\d+)/([^/]+)/callback$")
_WEBHOOK = re.compile(r"^/webhooks/(\d+)/([^/]+)(/.*)?$")
_CHANNEL_MESSAGES = re.compile(r"^/channels/(\d+)/messages$")
_CHANNEL_MESSAGE = re.compile(r"^/channels/(\d+)/messages/(\d+)$")
_MAJOR = re.compile(r"^/(channels|guilds)/(\d+)")
_SNOWFLAKE = re.compile(r"/\d{5,}")


@dataclass(frozen=True)
class Limits:
    """The numbers the fake enforces (Discord's commonly seen values; the bot must read headers)."""

    global_per_second: int = 50
    channel_messages: int = 5  # creates per channel per window
    channel_edits: int = 5  # edits per channel per window
    channel_window: float = 5.0
    webhook_token: int = 5  # requests per interaction token per window
    webhook_window: float = 2.0
    other: int = 50  # any other route, per major parameter
    other_window: float = 1.0


@dataclass
class _Bucket:
    limit: int
    window: float
    name: str
    used: int = 0
    reset_at: float = 0.0

    def open(self, now: float) -> None:
        if now >= self.reset_at:
            self.used, self.reset_at = 0, now + self.window


@dataclass
class Limited:
    """One 429 the fake answered."""

    method: str
    path: str
    scope: str  # "user" (a route's bucket) or "global"
    retry_after: float


@dataclass
class RateLimiter:
    """Counts requests per bucket and globally; answers 429 past a limit (when enabled)."""

    clock: Callable[[], float]
    limits: Limits = field(default_factory=Limits)
    enabled: bool = True
    limited: list[Limited] = field(default_factory=list)
    # Requests per whole second of the fake's clock, for benchmarks: all REST routes, and those
    # bound by the global limit.
    per_second: Counter[int] = field(default_factory=Counter)
    global_per_second: Counter[int] = field(default_factory=Counter)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _global: _Bucket = field(init=False)

    def __post_init__(self) -> None:
        self._global = _Bucket(self.limits.global_per_second, 1.0, "global")

    @property
    def by_scope(self) -> Counter[str]:
        """How many 429s the fake answered, by ``X-RateLimit-Scope``."""
        return Counter(hit.scope for hit in self.limited)

    def take(self) -> list[Limited]:
        """Return and clear the 429s (for tests that provoke them on purpose)."""
        found, self.limited = self.limited, []
        return found

    def route(self, method: str, path: str, application_id: int) -> tuple[Route, bool]:
        """The bucket a request falls in and whether the global limit applies to it."""
        if match := _CALLBACK.match(path):
            return ("interaction-callback", match[2], "callback"), False
        if match := _WEBHOOK.match(path):
            interaction = match[1] == str(application_id)
            return ("webhook", f"{match[1]}/{match[2]}", "webhook"), not interaction
        if method == "POST" and (match := _CHANNEL_MESSAGES.match(path)):
            return ("channel-messages", match[1], "create"), True
        if method == "PATCH" and (match := _CHANNEL_MESSAGE.match(path)):
            return ("channel-edits", match[1], "edit"), True
        major = _MAJOR.match(path)
        template = _SNOWFLAKE.sub("/{id}", path)
        return (f"{method} {template}", major[2] if major else "", "other"), True

    def _bucket(self, route: Route) -> _Bucket:
        name, major, kind = route
        key = (name, major)
        bucket = self._buckets.get(key)
        if bucket is None:
            lim = self.limits
            limit, window = {
                "create": (lim.channel_messages, lim.channel_window),
                "edit": (lim.channel_edits, lim.channel_window),
                "webhook": (lim.webhook_token, lim.webhook_window),
                "callback": (lim.webhook_token, lim.webhook_window),
            }.get(kind, (lim.other, lim.other_window))
            bucket = _Bucket(limit, window, hashlib.sha1(name.encode()).hexdigest()[:16])
            self._buckets[key] = bucket
        return bucket

    def check(
        self, method: str, path: str, application_id: int
    ) -> tuple[dict[str, str], web.Response | None]:
        """Headers for the answer, and a 429 response if the request is over a limit."""
        now = self.clock()
        self.per_second[int(now)] += 1
        if not self.enabled:
            return {}, None
        route, global_applies = self.route(method, path, application_id)
        bucket = self._bucket(route)
        bucket.open(now)
        if global_applies:
            self._global.open(now)
            if self._global.used >= self._global.limit:
                retry = max(0.001, self._global.reset_at - now)
                return {}, self._too_many(method, path, "global", retry, {})
        if bucket.used >= bucket.limit:
            retry = max(0.001, bucket.reset_at - now)
            headers = self._headers(bucket, now)
            return headers, self._too_many(method, path, "user", retry, headers)
        bucket.used += 1
        if global_applies:
            self._global.used += 1
            self.global_per_second[int(now)] += 1
        return self._headers(bucket, now), None

    def _headers(self, bucket: _Bucket, now: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{max(0.0, bucket.reset_at - now):.3f}",
            "X-RateLimit-Bucket": bucket.name,
        }

    def _too_many(
        self, method: str, path: str, scope: str, retry: float, headers: dict[str, str]
    ) -> web.Response:
        self.limited.append(Limited(method, path, scope, retry))
        extra = {
            **headers,
            "X-RateLimit-Scope": scope,
            "Retry-After": str(max(1, round(retry))),
            "Via": "1.1 google",
        }
        if scope == "global":
            extra["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry, 3),
            "global": scope == "global",
        }
        return json_response(body, 429, extra)
