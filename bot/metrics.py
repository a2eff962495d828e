"""Prometheus metrics: one registry per process and the small hooks that feed it.

Call sites stay one line: `METRICS.submit_answered(outcome)` in the job service; the proxy
client's latency comes from an httpx transport wrapper (`MeteredTransport`), Discord's REST
traffic, 429s, interaction acknowledgements and uploads from an aiohttp trace on discord.py's
session (`discord_trace`), the poll cycle from `instrument_tracker`. `bot/health.py` serves it.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import httpx

from bot.transport import LazyTransport

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DISCORD_EPOCH = 1420070400.0
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
_SIZE_BUCKETS = tuple(float(2**n) for n in range(16, 26))  # 64 KiB .. 32 MiB
_PROXY_ROUTE = re.compile(r"/(submit|task|insight-face)/.*$")
_ID_SEGMENT = re.compile(r"^(?:\d{3,}|[0-9a-f-]{16,}|[A-Za-z0-9_.-]{40,})$")
_INTERACTION_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def proxy_endpoint(path: str) -> str:
    """`/v1/mj/task/1712.../fetch` -> `task/{id}/fetch`: one label per endpoint, not per task."""
    match = _PROXY_ROUTE.search(path)
    if match is None:
        return "other"
    parts = match.group(0).strip("/").split("/")
    return "/".join("{id}" if _ID_SEGMENT.match(p) else p for p in parts)


def discord_route(method: str, path: str) -> str:
    """A coarse, bounded label for a Discord REST path (ids and tokens never become labels)."""
    if _INTERACTION_CALLBACK.search(path):
        return "interaction_callback"
    if "/webhooks/" in path:
        return "interaction_followup"
    if "/commands" in path:
        return "commands"
    if "/messages" in path:
        return "messages"
    if path.endswith("/gateway/bot") or path.endswith("/gateway"):
        return "gateway"
    return "other"


class Metrics:
    """Every metric mjbot exports; names start with `mjbot_`.

    The process-wide `METRICS` starts disabled: its hooks then only keep the last poll time, and
    prometheus_client is not even imported (start-up time and memory, issue 12). `enable()` when
    [metrics] is on.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.started = time.time()
        self._last_poll_at: float | None = None
        self.enabled = False
        if enabled:
            self.enable()

    registry: CollectorRegistry
    jobs: Gauge
    jobs_finished: Counter
    submits: Counter
    proxy_requests: Histogram
    poll_cycles: Histogram
    last_poll: Gauge
    followed: Gauge
    discord_requests: Counter
    discord_rate_limited: Counter
    interactions: Counter
    ack_latency: Histogram
    uploads: Counter
    upload_bytes: Histogram
    gateway: Gauge
    database_writable: Gauge

    def enable(self) -> None:
        """Create the collectors (once); from then on every hook records."""
        if self.enabled:
            return
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Gauge(
            "mjbot_jobs", "Unfinished jobs in the database by state", ["state"], registry=r
        )
        self.jobs_finished = Counter(
            "mjbot_jobs_finished",
            "Jobs that reached a final state while this process ran, by state",
            ["state"],
            registry=r,
        )
        self.submits = Counter(
            "mjbot_submits", "Submits to the proxy by what it answered", ["outcome"], registry=r
        )
        self.proxy_requests = Histogram(
            "mjbot_proxy_request_duration_seconds",
            "Requests to the Midjourney proxy by endpoint and HTTP status (error: no answer)",
            ["endpoint", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_cycles = Histogram(
            "mjbot_poll_cycle_duration_seconds",
            "Duration of one poll cycle of the tracker",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.last_poll = Gauge(
            "mjbot_last_successful_poll_timestamp_seconds",
            "Unix time of the last poll cycle the proxy answered",
            registry=r,
        )
        self.followed = Gauge("mjbot_followed_tasks", "Tasks the tracker follows", registry=r)
        self.discord_requests = Counter(
            "mjbot_discord_requests",
            "Discord REST requests by route and HTTP status (error: no answer)",
            ["method", "route", "status"],
            registry=r,
        )
        self.discord_rate_limited = Counter(
            "mjbot_discord_rate_limited",
            "Discord REST answers with HTTP 429, by X-RateLimit-Scope (user, global, shared; "
            "cloudflare: a 429 without it, from Discord's edge)",
            ["scope"],
            registry=r,
        )
        self.interactions = Counter(
            "mjbot_interactions_acknowledged",
            "Interaction callbacks sent to Discord, by HTTP status",
            ["status"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "mjbot_interaction_ack_latency_seconds",
            "From the interaction's creation (its snowflake) to its callback answered "
            "(Discord allows 3 s)",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.uploads = Counter(
            "mjbot_uploads", "File uploads to Discord by HTTP status", ["status"], registry=r
        )
        self.upload_bytes = Histogram(
            "mjbot_upload_size_bytes",
            "Size of the request bodies of file uploads to Discord",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.gateway = Gauge(
            "mjbot_gateway_connected", "1 while the Discord gateway is connected", registry=r
        )
        self.database_writable = Gauge(
            "mjbot_database_writable",
            "1 when a write transaction could start at the last scrape",
            registry=r,
        )
        self.enabled = True

    # ---- hooks ------------------------------------------------------------------------------
    def submit_answered(self, outcome: object) -> None:
        """One submit's outcome (bot/midjourney/outcomes.py), e.g. submitted, queued, busy."""
        if not self.enabled:
            return
        label = _snake(type(outcome).__name__)
        if getattr(outcome, "maybe_sent", False):
            label += "_maybe_sent"
        self.submits.labels(label).inc()

    def job_changed(self, state: str, terminal: bool) -> None:
        if terminal and self.enabled:
            self.jobs_finished.labels(state).inc()

    def proxy_request(self, path: str, status: int | str, seconds: float) -> None:
        if not self.enabled:
            return
        self.proxy_requests.labels(proxy_endpoint(path), str(status)).observe(seconds)

    def poll_cycle(self, seconds: float, *, answered: bool, followed: int) -> None:
        if answered:
            self._last_poll_at = time.time()
        if not self.enabled:
            return
        self.poll_cycles.observe(seconds)
        self.followed.set(followed)
        if self._last_poll_at is not None and answered:
            self.last_poll.set(self._last_poll_at)

    def last_poll_age(self) -> float:
        """Seconds since the last answered poll (since start-up before the first)."""
        last = self._last_poll_at if self._last_poll_at is not None else self.started
        return max(0.0, time.time() - last)

    def discord_request(
        self,
        method: str,
        path: str,
        status: int | str,
        *,
        sent_bytes: int,
        multipart: bool,
        scope: str | None = None,
    ) -> None:
        if not self.enabled:
            return
        route = discord_route(method, path)
        self.discord_requests.labels(method, route, str(status)).inc()
        if status == 429:
            self.discord_rate_limited.labels(scope or "unknown").inc()
        match = _INTERACTION_CALLBACK.search(path)
        if match is not None:
            self.interactions.labels(str(status)).inc()
            created = (int(match.group(1)) >> 22) / 1000 + DISCORD_EPOCH
            self.ack_latency.observe(max(0.0, time.time() - created))
        if multipart and method in ("POST", "PATCH"):
            self.uploads.labels(str(status)).inc()
            self.upload_bytes.observe(sent_bytes)


METRICS = Metrics(enabled=False)


class MeteredTransport(httpx.AsyncBaseTransport):
    """Times every request to the proxy (endpoint and status) around the real transport."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport | None = None, metrics: Metrics = METRICS
    ) -> None:
        self._inner = inner or LazyTransport()  # TLS set up with the first https request
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            self._metrics.proxy_request(request.url.path, "error", time.perf_counter() - started)
            raise
        self._metrics.proxy_request(
            request.url.path, response.status_code, time.perf_counter() - started
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def discord_trace(metrics: Metrics = METRICS) -> aiohttp.TraceConfig:
    """An aiohttp trace for discord.py's HTTP session (`bot.http.http_trace`)."""
    trace = aiohttp.TraceConfig()

    async def start(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.sent = 0
        content_type = params.headers.get("Content-Type", "") if params.headers else ""
        ctx.multipart = content_type.startswith("multipart/")

    async def chunk(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.sent = getattr(ctx, "sent", 0) + len(params.chunk)

    async def end(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        response = params.response
        scope = response.headers.get("X-RateLimit-Scope") or (
            "cloudflare" if "Via" in response.headers else "unknown"
        )
        multipart = getattr(ctx, "multipart", False) or response.request_info.headers.get(
            "Content-Type", ""
        ).startswith("multipart/")
        metrics.discord_request(
            params.method,
            params.url.path,
            response.status,
            sent_bytes=getattr(ctx, "sent", 0),
            multipart=multipart,
            scope=scope,
        )

    async def failed(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        metrics.discord_request(
            params.method, params.url.path, "error", sent_bytes=0, multipart=False
        )

    trace.on_request_start.append(start)
    trace.on_request_chunk_sent.append(chunk)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(failed)
    return trace


class Polling(Protocol):
    """What `instrument_tracker` needs of the tracker."""

    async def poll_once(self) -> None: ...

    @property
    def consecutive_failures(self) -> int: ...

    @property
    def followed_task_ids(self) -> list[str]: ...


def instrument_tracker(tracker: Polling, metrics: Metrics = METRICS) -> None:
    """Time each poll cycle and note the answered ones, without touching the tracker's code."""
    inner = tracker.poll_once

    async def poll_once() -> None:
        started = time.perf_counter()
        try:
            await inner()
        finally:
            metrics.poll_cycle(
                time.perf_counter() - started,
                answered=tracker.consecutive_failures == 0,
                followed=len(tracker.followed_task_ids),
            )

    # An instance attribute shadows the method: the tracker's loop calls self.poll_once().
    setattr(tracker, "poll_once", poll_once)  # noqa: B010 (mypy refuses assigning a method)
