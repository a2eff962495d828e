"""The simulator's aiohttp server: routes, auth, injected faults, request recording, notifyHook."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import ClientSession, ClientTimeout, web

from .backends import Mode, authorised, refusal
from .drawing import render_png
from .endpoints import REQUEST_JSON, ProxyEndpoints
from .media import panel_png, render_mp4
from .quirks import parse_quirks
from .refusals import refusal_for
from .tasks import ManualClock, SimTask

log = logging.getLogger(__name__)

FaultKind = Literal["http500", "timeout", "garbage", "html", "empty", "http429", "connection_close"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_BANNED_WORDS = ("banned-word", "nsfw-test")
_IMAGE_CACHE_SIZE = 128


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the simulator received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class _Fault:
    suffix: str
    kind: FaultKind | Literal["reply"]
    remaining: int
    status: int = 200
    body: Any = None


class Simulator(ProxyEndpoints):
    """An aiohttp app answering like a Midjourney proxy; tests drive its clock and faults."""

    def __init__(
        self,
        mode: Mode = "plus",
        *,
        api_key: str = "",
        api_keys: Iterable[str] = (),
        prefix: str = "/mj",
        seconds_per_job: float = 6.0,
        clock: Callable[[], float] = time.monotonic,
        max_concurrent: int = 10,
        queue_limit: int = 50,
        banned_words: Iterable[str] = DEFAULT_BANNED_WORDS,
        remix: bool = False,
        numeric_ids: bool = False,
        supports_list: bool = True,
        public_base_url: str | None = None,
        notify_interval: float = 0.2,
        quirks: Iterable[str] = (),
    ) -> None:
        super().__init__(
            mode,
            prefix=prefix,
            clock=clock,
            seconds_per_job=seconds_per_job,
            max_concurrent=max_concurrent,
            queue_limit=queue_limit,
            banned_words=banned_words,
            remix=remix,
            numeric_ids=numeric_ids,
            public_base_url=public_base_url,
        )
        self.api_key = api_key
        # More keys it accepts too (`mjbot mock-api --api-key A --api-key B`: two servers).
        self.api_keys = tuple(k for k in api_keys if k)
        self.quirks = parse_quirks(quirks)
        self.supports_list = supports_list
        self.notify_interval = notify_interval
        self.requests: list[RecordedRequest] = []
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self._faults: list[_Fault] = []
        self._images: dict[str, bytes] = {}
        self.media_redirect: str | None = None
        self.media_cut = False  # serve the first two thirds of every finished image
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._app = self._build_app()

    @property
    def app(self) -> web.Application:
        return self._app

    @property
    def base_url(self) -> str:
        return self.public_base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns the base URL."""
        self._release = asyncio.Event()
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        if not self.public_base_url:
            public_host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
            self.public_base_url = f"http://{public_host}:{bound_port}"
        self._session = ClientSession(timeout=ClientTimeout(total=5))
        self._spawn(self._notify_loop())
        return self.public_base_url

    async def stop(self) -> None:
        """Release hung requests, stop notifying, close the server."""
        self._release.set()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- test hooks --------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move simulated time on; switches to a ManualClock frozen at the current reading."""
        if not isinstance(self._clock, ManualClock):
            self.set_clock(ManualClock(self._clock()))
        assert isinstance(self._clock, ManualClock)
        self._clock.advance(seconds)
        if self._session is not None:
            self._spawn(self._notify_changes())

    def inject_fault(self, path_suffix: str, kind: FaultKind, times: int = 1) -> None:
        """The next `times` requests whose path ends with `path_suffix` fail this way."""
        self._faults.append(_Fault("/" + path_suffix.strip("/"), kind, times))

    def inject_reply(
        self, path_suffix: str, body: Any, *, status: int = 200, times: int = 1
    ) -> None:
        """The next `times` matching requests get this JSON body, whatever its shape."""
        self._faults.append(_Fault("/" + path_suffix.strip("/"), "reply", times, status, body))

    def redirect_media(self, location: str | None) -> None:
        """Answer every image and video request with a redirect there (None: serve them)."""
        self.media_redirect = location

    def clear_faults(self) -> None:
        """Drop every injected fault and reply not used up yet."""
        self._faults.clear()

    def release_hangs(self) -> None:
        """Let requests held by a "timeout" fault finish (stop() does it too)."""
        self._release.set()
        self._release = asyncio.Event()

    def count(self, path_suffix: str) -> int:
        """How many requests reached a path ending with `path_suffix`."""
        suffix = "/" + path_suffix.strip("/")
        return sum(1 for r in self.requests if r.path.endswith(suffix))

    @property
    def submits(self) -> int:
        """How many submit requests (any kind) were received."""
        return sum(1 for r in self.requests if "/submit/" in r.path)

    # ---- the app -----------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        p = self.prefix
        routes = [
            web.post(f"{p}/submit/imagine", self._imagine),
            web.post(f"{p}/submit/action", self._action),
            web.post(f"{p}/submit/modal", self._modal),
            web.post(f"{p}/submit/blend", self._blend),
            web.post(f"{p}/submit/describe", self._describe),
            web.post(f"{p}/submit/shorten", self._shorten),
            web.get(f"{p}/task/{{id}}/fetch", self._fetch),
            web.get(f"{p}/task/{{id}}/image-seed", self._image_seed),
            web.get("/sim/images/{name}", self._image),
            web.get("/sim/videos/{name}", self._video),
        ]
        if self.supports_list:
            routes.append(web.post(f"{p}/task/list-by-condition", self._list))
            if self.mode == "trueai":
                routes.append(web.post(f"{p}/task/list-by-ids", self._list))
        if self.mode == "new-api":
            routes.append(web.get(f"{p}/image/{{id}}", self._image))
        else:
            routes.append(web.post(f"{p}/task/{{id}}/cancel", self._cancel))
        app.add_routes(routes)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            raw = await request.read()
        except ConnectionResetError:
            # The client went away mid-body (a bot stopping during a poll): nobody to answer,
            # and nothing wrong with the server.
            return web.Response(status=400)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request[REQUEST_JSON] = body
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.path, headers, body))
        fault = self._take_fault(request.path)
        if fault is not None:
            return await self._apply_fault(fault, request)
        refused = refusal_for(self.quirks, request.path)
        if refused is not None:
            return refused
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception
        is_image = request.path.startswith("/sim/") or "/image/" in request.path
        if not is_image and not self._authorised(headers):
            return refusal(self.mode, headers)
        return await handler(request)

    def _authorised(self, headers: dict[str, str]) -> bool:
        keys = [k for k in (self.api_key, *self.api_keys) if k]
        if not keys:
            return True
        return any(authorised(self.mode, key, headers) for key in keys)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and path.endswith(fault.suffix):
                fault.remaining -= 1
                return fault
        return None

    async def _apply_fault(self, fault: _Fault, request: web.Request) -> web.StreamResponse:
        if fault.kind == "reply":
            return web.json_response(fault.body, status=fault.status)
        if fault.kind == "timeout":
            await self._release.wait()
            return web.Response(status=504)
        if fault.kind == "connection_close":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.kind == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if fault.kind == "http429":
            return web.json_response(
                {"error": {"message": "rate limited", "type": "new_api_error"}},
                status=429,
                headers={"Retry-After": "1"},
            )
        if fault.kind == "garbage":
            return web.Response(body=b'{"code": 1, "descri', content_type="application/json")
        if fault.kind == "html":
            return web.Response(
                text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        return web.Response(status=200)  # "empty"

    # ---- images -----------------------------------------------------------------------------
    def _media_task(self, name: str, suffix: str) -> tuple[SimTask, int | None]:
        """The task and panel number of `<id>[-<n>|-preview]<suffix>`."""
        stem = name.removesuffix(suffix).removesuffix("-preview")
        task_id, _, number = stem.partition("-")
        task = self.tasks.get(task_id)
        if task is None or (number and not number.isdigit()):
            raise web.HTTPNotFound()
        return task, int(number) if number else None

    async def _image(self, request: web.Request) -> web.Response:
        if self.media_redirect is not None:
            raise web.HTTPFound(self.media_redirect)
        name = request.match_info.get("name") or request.match_info.get("id", "")
        task, panel = self._media_task(name, ".png")
        status, pct = self._status(task)
        if panel is not None and status == "SUCCESS":
            return web.Response(body=panel_png(task, panel), content_type="image/png")
        preview = name.endswith("-preview.png") or status != "SUCCESS"
        body = self._render(task, pct if preview else None)
        if self.media_cut and not preview:
            body = body[: len(body) * 2 // 3]
        return web.Response(body=body, content_type="image/png")

    async def _video(self, request: web.Request) -> web.Response:
        if self.media_redirect is not None:
            raise web.HTTPFound(self.media_redirect)
        task, number = self._media_task(request.match_info["name"], ".mp4")
        if task.kind != "video" or self._status(task)[0] != "SUCCESS":
            raise web.HTTPNotFound()
        return web.Response(body=render_mp4(task, number or 1), content_type="video/mp4")

    def _render(self, task: SimTask, preview_pct: int | None) -> bytes:
        key = f"{task.id}:{preview_pct}"
        if key not in self._images:
            if len(self._images) >= _IMAGE_CACHE_SIZE:
                self._images.pop(next(iter(self._images)))
            self._images[key] = render_png(task, preview_pct)
        return self._images[key]

    # ---- notifyHook --------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _notify_loop(self) -> None:
        while True:
            await asyncio.sleep(self.notify_interval)
            await self._notify_changes()

    async def _notify_changes(self) -> None:
        for task in list(self.tasks.values()):
            if task.notify_hook is None:
                continue
            status, pct = self._status(task)
            if task.last_notified == (status, pct):
                continue
            task.last_notified = (status, pct)
            self._spawn(self._post_hook(task.notify_hook, self._task_json(task)))

    async def _post_hook(self, url: str, body: dict[str, Any]) -> None:
        """Fire and forget, as the real proxies do: no retry, errors only logged."""
        if self._session is None:
            return
        self.notifications.append((url, body))
        try:
            async with self._session.post(url, json=body) as response:
                await response.read()
        except (TimeoutError, OSError, ValueError) as exc:
            log.debug("notifyHook for task %s failed: %s", body.get("id"), type(exc).__name__)
        except Exception as exc:  # aiohttp.ClientError and friends: a hook must never break us
            log.debug("notifyHook for task %s failed: %s", body.get("id"), type(exc).__name__)


async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8787,
    mode: Mode = "plus",
    api_key: str | Sequence[str] = "",
    prefix: str = "/mj",
    seconds_per_job: float = 6.0,
    quirks: Iterable[str] = (),
) -> None:
    """Serve a simulator until cancelled (`mjbot mock-api`); several keys: each accepted."""
    keys = [api_key] if isinstance(api_key, str) else list(api_key)
    simulator = Simulator(
        mode,
        api_key=keys[0] if keys else "",
        api_keys=keys[1:],
        prefix=prefix,
        seconds_per_job=seconds_per_job,
        quirks=quirks,
    )
    base_url = await simulator.start(host, port)
    log.info("Midjourney-proxy simulator (%s) serving at %s%s", mode, base_url, simulator.prefix)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
