"""The opt-in HTTP endpoint ([metrics]): `/healthz` for Docker and load balancers, `/metrics`
for Prometheus. It only reads; it never changes the bot."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.config import MetricsSettings
from bot.metrics import METRICS, Metrics

log = logging.getLogger(__name__)

# /healthz calls the poll stale after this many poll intervals without an answered cycle
# (and at least STALE_MIN_SECONDS), while the tracker follows at least one task.
STALE_INTERVALS = 10
STALE_MIN_SECONDS = 120.0
DATABASE_CHECK_SECONDS = 3.0


@dataclass
class HealthSources:
    """Where the endpoint reads the facts from (plain callables: no Discord types here)."""

    gateway_connected: Callable[[], bool]
    database_writable: Callable[[], Awaitable[bool]]
    unfinished_jobs: Callable[[], Awaitable[dict[str, int]]]
    followed_tasks: Callable[[], int]
    poll_interval: float


class HealthServer:
    def __init__(
        self, settings: MetricsSettings, sources: HealthSources, metrics: Metrics = METRICS
    ) -> None:
        self._settings = settings
        self._sources = sources
        metrics.enable()
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._scrape)
        return app

    async def health(self) -> tuple[bool, dict[str, object]]:
        sources = self._sources
        gateway = sources.gateway_connected()
        try:
            writable = await asyncio.wait_for(
                sources.database_writable(), timeout=DATABASE_CHECK_SECONDS
            )
        except TimeoutError:
            writable = False
        followed = sources.followed_tasks()
        age = self._metrics.last_poll_age()
        stale_after = max(STALE_MIN_SECONDS, STALE_INTERVALS * sources.poll_interval)
        polling = followed == 0 or age <= stale_after
        ok = gateway and writable and polling
        return ok, {
            "status": "ok" if ok else "unhealthy",
            "gateway_connected": gateway,
            "database_writable": writable,
            "last_successful_poll_age_seconds": round(age, 1),
            "poll_stale_after_seconds": stale_after,
            "followed_tasks": followed,
        }

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = await self.health()
        self._metrics.database_writable.set(1 if body["database_writable"] else 0)
        return web.Response(
            status=200 if ok else 503, text=json.dumps(body), content_type="application/json"
        )

    async def _scrape(self, request: web.Request) -> web.Response:
        metrics = self._metrics
        _, health = await self.health()
        metrics.gateway.set(1 if health["gateway_connected"] else 0)
        metrics.database_writable.set(1 if health["database_writable"] else 0)
        metrics.followed.set(self._sources.followed_tasks())
        try:
            counts = await self._sources.unfinished_jobs()
        except Exception:
            log.warning("could not count the unfinished jobs for /metrics", exc_info=True)
        else:
            for state in ("submitting", "submitted", "queued", "in_progress", "modal"):
                metrics.jobs.labels(state).set(counts.get(state, 0))
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._settings.port
        log.info("health and metrics listening on http://%s:%s", self._settings.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
