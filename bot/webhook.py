"""Receiver for the proxy's notifyHook callbacks: a callback only makes the tracker poll early."""

from __future__ import annotations

import json
import logging
from typing import Protocol

from aiohttp import web

from bot.config import WebhookSettings

log = logging.getLogger(__name__)


class Wakeable(Protocol):
    def wake(self, task_id: str | None = None) -> None: ...


class HookReceiver:
    """Serves one unguessable path; the body is read only for the task id, never trusted."""

    def __init__(self, settings: WebhookSettings, path: str, tracker: Wakeable) -> None:
        self._settings = settings
        self.path = path
        self._tracker = tracker
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.received = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._settings.max_body_bytes)
        app.router.add_post(self.path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        self.received += 1
        task_id = _task_id(body)
        if task_id is not None:
            self._tracker.wake(task_id)
        return web.Response(status=204)

    async def start(self) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        await site.start()
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._settings.port
        log.info("notifyHook receiver listening on %s:%s", self._settings.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _task_id(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        return text if 0 < len(text) <= 64 else None
    return None
