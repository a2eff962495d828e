"""A built-in simulator of the Midjourney-proxy "plus" API, with new-api and trueai quirks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import ClientSession, ClientTimeout, web
from PIL import Image, ImageDraw, ImageFilter, ImageFont

log = logging.getLogger(__name__)

Mode = Literal["plus", "trueai", "new-api"]
FaultKind = Literal["http500", "timeout", "garbage", "html", "empty", "http429", "connection_close"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_JSON = web.RequestKey("json", object)

DEFAULT_BANNED_WORDS = ("banned-word", "nsfw-test")
_NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")
_GRID_LONG_SIDE = 768
_UPSCALE_LONG_SIDE = 1024
_IMAGE_CACHE_SIZE = 128
_DIALOG_TEXT = {"plus": "窗口等待", "trueai": "Waiting for window confirm"}
# customId families new-api relays; everything else is refused before reaching upstream.
_NEW_API_FAMILIES = re.compile(
    r"^MJ::(JOB::(upsample|variation|low_variation|high_variation|pan_|reroll)|"
    r"Outpaint::|CustomZoom::|Inpaint::)"
)
_TRUEAI_FAMILIES = re.compile(
    r"^MJ::(JOB::(upsample|variation|low_variation|high_variation|pan_|reroll|animate_|"
    r"video_virtual_upscale)|Outpaint::|CustomZoom::|Inpaint::|Job::PicReader::|Picread::Retry)"
)


class ManualClock:
    """A clock that only moves when told: `advance(seconds)`."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


@dataclass
class SimTask:
    """A simulated job; its status is computed from the clock whenever it is read."""

    id: str
    action: str
    kind: Literal["grid", "upscale", "describe", "shorten"]
    prompt: str
    description: str
    submitted_at: float
    starts_at: float | None  # None while waiting in MODAL
    job_hash: str = field(default_factory=lambda: str(uuid.uuid4()))
    parent_id: str | None = None
    panel: int = 0
    aspect: tuple[int, int] = (1, 1)
    dialog: str | None = None  # zoom | inpaint | remix | pick, for MODAL tasks
    final_prompt: str = ""
    forced_status: str | None = None
    forced_at: float | None = None
    fail_reason: str | None = None
    state: str | None = None
    notify_hook: str | None = None
    bot_type: str = "MID_JOURNEY"
    last_notified: tuple[str, int] | None = None


class Simulator:
    """An aiohttp app answering like a Midjourney proxy; tests drive its clock and faults."""

    def __init__(
        self,
        mode: Mode = "plus",
        *,
        api_key: str = "",
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
    ) -> None:
        stripped = prefix.strip().strip("/")
        self.mode: Mode = mode
        self.api_key = api_key
        self.prefix = f"/{stripped}" if stripped else ""
        self.seconds_per_job = seconds_per_job
        self.max_concurrent = max_concurrent
        self.queue_limit = queue_limit
        self.banned_words = tuple(banned_words)
        self.remix = remix
        self.numeric_ids = numeric_ids
        self.supports_list = supports_list
        self.public_base_url = (public_base_url or "").rstrip("/")
        self.notify_interval = notify_interval
        self.tasks: dict[str, SimTask] = {}
        self.requests: list[RecordedRequest] = []
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self._clock = clock
        self._epoch_offset = time.time() - clock()
        self._faults: list[_Fault] = []
        self._release = asyncio.Event()
        self._last_id = 0
        self._images: dict[str, bytes] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._app = self._build_app()

    # ---- lifecycle ---------------------------------------------------------------------------
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
    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use another clock from now on (wall-clock timestamps stay continuous)."""
        wall = self._clock() + self._epoch_offset
        self._clock = clock
        self._epoch_offset = wall - clock()

    def advance(self, seconds: float) -> None:
        """Move simulated time on; switches to a ManualClock frozen at the current reading."""
        if not isinstance(self._clock, ManualClock):
            self.set_clock(ManualClock(self._clock()))
        assert isinstance(self._clock, ManualClock)
        self._clock.advance(seconds)
        if self._session is not None:
            self._spawn(self._notify_changes())

    def now(self) -> float:
        return self._clock()

    def inject_fault(self, path_suffix: str, kind: FaultKind, times: int = 1) -> None:
        """The next `times` requests whose path ends with `path_suffix` fail this way."""
        self._faults.append(_Fault("/" + path_suffix.strip("/"), kind, times))

    def inject_reply(
        self, path_suffix: str, body: Any, *, status: int = 200, times: int = 1
    ) -> None:
        """The next `times` matching requests get this JSON body, whatever its shape."""
        self._faults.append(_Fault("/" + path_suffix.strip("/"), "reply", times, status, body))

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

    def finish(self, task_id: str) -> None:
        """Force a task to SUCCESS now."""
        self._force(task_id, "SUCCESS", None)

    def fail(self, task_id: str, reason: str = "simulated failure") -> None:
        """Force a task to FAILURE now."""
        self._force(task_id, "FAILURE", reason)

    def status_of(self, task_id: str) -> str:
        return self._status(self.tasks[task_id])[0]

    def _force(self, task_id: str, status: str, reason: str | None) -> None:
        task = self.tasks[task_id]
        task.forced_status, task.forced_at, task.fail_reason = status, self._clock(), reason
        if task.starts_at is None:
            task.starts_at = self._clock()

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
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request[_JSON] = body
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.path, headers, body))
        fault = self._take_fault(request.path)
        if fault is not None:
            return await self._apply_fault(fault, request)
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception
        is_image = request.path.startswith("/sim/") or "/image/" in request.path
        if not is_image and not self._authorised(headers):
            return self._refuse(headers)
        return await handler(request)

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

    def _authorised(self, headers: dict[str, str]) -> bool:
        if not self.api_key:
            return True
        auth = headers.get("authorization", "")
        secret = headers.get("mj-api-secret", "")
        if self.mode == "plus":
            return secret == self.api_key
        if self.mode == "trueai":  # compared verbatim: "Bearer " is not stripped
            return (auth if "authorization" in headers else secret) == self.api_key
        key = auth.removeprefix("Bearer ")
        if key in ("", "midjourney-proxy"):
            key = secret.removeprefix("Bearer ")
        return key.removeprefix("sk-") == self.api_key.removeprefix("sk-")

    def _refuse(self, headers: dict[str, str]) -> web.Response:
        if self.mode == "plus":
            return web.Response(status=401)
        if self.mode == "trueai":
            missing = "authorization" not in headers and "mj-api-secret" not in headers
            text = "Authorization header missing." if missing else "未登录"
            return web.Response(status=401 if missing else 403, text=text)
        return web.json_response(
            {"error": {"message": "无效的令牌 (invalid token)", "type": "new_api_error"}},
            status=401,
        )

    # ---- state -------------------------------------------------------------------------------
    def _status(self, task: SimTask) -> tuple[str, int]:
        if task.forced_status is not None:
            return task.forced_status, 100 if task.forced_status == "SUCCESS" else 0
        if task.starts_at is None:
            return "MODAL", 0
        now, duration = self._clock(), self.seconds_per_job
        if now < task.starts_at:
            return "NOT_START", 0
        elapsed = now - task.starts_at
        if duration <= 0 or elapsed >= duration:
            return "SUCCESS", 100
        if elapsed < duration * 0.1:
            return "SUBMITTED", 0
        return "IN_PROGRESS", min(int(elapsed / duration * 100), 99)

    def _end(self, task: SimTask) -> float | None:
        if task.forced_status is not None or task.starts_at is None:
            return None
        return task.starts_at + self.seconds_per_job

    def _schedule(self) -> tuple[float, int] | None:
        """(start time, queue position) for a new job, or None when the queue is full."""
        now = self._clock()
        ends = sorted(e for t in self.tasks.values() if (e := self._end(t)) is not None and e > now)
        waiting = len(ends) - self.max_concurrent
        if waiting < 0:
            return now, 0
        if waiting >= self.queue_limit:
            return None
        return ends[waiting], waiting + 1

    def _new_id(self) -> str:
        self._last_id = max(self._last_id + 1, int(time.time() * 1000) * 1000)
        return str(self._last_id)

    def _ms(self, at: float | None) -> int | None:
        return None if at is None else int((at + self._epoch_offset) * 1000)

    # ---- replies -----------------------------------------------------------------------------
    def _reply(
        self,
        code: int,
        description: str,
        result: str | None = None,
        properties: dict[str, Any] | None = None,
        *,
        keep_21: bool = False,
    ) -> web.Response:
        if self.mode == "new-api" and (code == 22 or (code == 21 and not keep_21)):
            code = 1  # new-api's string replace of "code":21 / "code":22
        payload: dict[str, Any] = {"code": code, "description": description}
        if result is not None:
            payload["result"] = int(result) if self.numeric_ids and result.isdigit() else result
        if properties or self.mode != "new-api":
            payload["properties"] = properties or {}
        else:
            payload["properties"] = None
        return web.json_response(payload)

    def _missing(self, what: str) -> web.Response:
        """The answer for an unknown task id in submit/action and submit/modal."""
        if self.mode == "new-api":
            return self._new_api_error("task_not_found")
        status = 404 if self.mode == "trueai" else 200
        return web.json_response({"code": 3, "description": what}, status=status)

    def _new_api_error(self, description: str, code: int = 4) -> web.Response:
        body = {"description": f"{description} ", "type": "upstream_error", "code": code}
        return web.json_response(body, status=400)

    def _start_reply(self, task: SimTask, extra: dict[str, Any] | None = None) -> web.Response:
        """Put a new (or dialog-confirmed) task on the queue and answer 1, 22 or 23."""
        slot = self._schedule()
        if slot is None:
            self.tasks.pop(task.id, None)
            if self.mode == "trueai":
                return self._reply(9, "提交失败，队列已满，请稍后重试")
            return self._reply(23, "队列已满，请稍后尝试", task.id)
        task.starts_at, position = slot
        self.tasks[task.id] = task
        props = {"discordInstanceId": "1118138338562560102", **(extra or {})}
        if position:
            props["numberOfQueues"] = position
            return self._reply(22, f"排队中，前面还有{position}个任务", task.id, props)
        return self._reply(1, "Submit success", task.id, props)

    def _task_json(self, task: SimTask) -> dict[str, Any]:
        status, pct = self._status(task)
        progress = f"{pct}%"
        if status == "FAILURE":
            progress = "100%" if self.mode == "new-api" else ""
        started = task.starts_at is not None and self._clock() >= task.starts_at
        terminal = status in ("SUCCESS", "FAILURE", "CANCEL")
        finished_at = task.forced_at if task.forced_status else self._end(task)
        body: dict[str, Any] = {
            "id": int(task.id) if self.numeric_ids else task.id,
            "action": self._action_name(task),
            "status": status,
            "prompt": task.prompt,
            "promptEn": task.prompt,
            "description": task.description,
            "state": task.state,
            "submitTime": self._ms(task.submitted_at),
            "startTime": self._ms(task.starts_at) if started else None,
            "finishTime": self._ms(finished_at) if terminal else None,
            "imageUrl": self._image_url(task, status, pct),
            "progress": progress,
            "failReason": task.fail_reason if status == "FAILURE" else None,
            "buttons": _buttons(task) if status == "SUCCESS" else [],
        }
        final = {"finalPrompt": task.final_prompt or task.prompt}
        if self.mode == "new-api":
            for key in ("submitTime", "startTime", "finishTime"):
                body[key] = body[key] or 0
            body.update(customId="", maskBase64="", botType="", failReason=body["failReason"] or "")
            body["properties"] = {**final, "finalZhPrompt": ""}
            return body
        body["properties"] = {
            **final,
            "messageHash": task.job_hash,
            "botType": task.bot_type,
            "notifyHook": task.notify_hook,
            "discordInstanceId": "1118138338562560102",
        }
        if self.mode == "trueai":
            body.update(botType=task.bot_type, parentId=task.parent_id, seed=None)
            url = body["imageUrl"]
            body["imageUrls"] = (
                [{"url": url, "thumbnail": url}] if status == "SUCCESS" and url else []
            )
        return body

    def _action_name(self, task: SimTask) -> str:
        if self.mode == "new-api" and task.dialog == "zoom":
            return "CUSTOM_ZOOM"
        return task.action

    def _image_url(self, task: SimTask, status: str, pct: int) -> str | None:
        if task.kind == "shorten" or status not in ("IN_PROGRESS", "SUCCESS"):
            return None
        if self.mode == "new-api":
            return f"{self.public_base_url}{self.prefix}/image/{task.id}"
        if status == "IN_PROGRESS":
            return f"{self.public_base_url}/sim/images/{task.id}-preview.png?p={pct}"
        return f"{self.public_base_url}/sim/images/{task.id}.png"

    # ---- submits -----------------------------------------------------------------------------
    def _new_task(self, body: dict[str, Any], **fields: Any) -> SimTask:
        hook = body.get("notifyHook") if self.mode != "new-api" else None
        state = body.get("state")
        return SimTask(
            id=self._new_id(),
            submitted_at=self._clock(),
            starts_at=None,
            notify_hook=hook if isinstance(hook, str) and hook else None,
            state=state if isinstance(state, str) else None,
            **fields,
        )

    async def _imagine(self, request: web.Request) -> web.Response:
        body = _body(request)
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            return self._reply(4, "prompt不能为空")
        images = body.get("base64Array") or []
        if not isinstance(images, list) or not all(self._is_image_ref(i) for i in images):
            return self._reply(4, "base64格式错误")
        word = self._banned_word(prompt)
        bot_type = str(body.get("botType") or "MID_JOURNEY")
        task = self._new_task(
            body,
            action="IMAGINE",
            kind="grid",
            prompt=prompt,
            description=f"/imagine {prompt}",
            aspect=_aspect(prompt),
            bot_type=bot_type,
        )
        if word is not None:
            if self.mode != "trueai":
                return self._reply(
                    24, "可能包含敏感词", None, {"promptEn": prompt, "bannedWord": word}
                )
            task.starts_at = self._clock()  # trueai checks later and fails the task
            self.tasks[task.id] = task
            self._force(task.id, "FAILURE", "可能包含敏感词")
            return self._reply(1, "Submit success", task.id)
        return self._start_reply(task)

    async def _blend(self, request: web.Request) -> web.Response:
        body = _body(request)
        images = body.get("base64Array")
        if not isinstance(images, list) or not 2 <= len(images) <= 5:
            return self._reply(4, "base64List参数错误")
        if not all(self._is_image_ref(i) for i in images):
            return self._reply(4, "base64格式错误")
        dimensions = body.get("dimensions", "SQUARE")
        aspects = {"PORTRAIT": (2, 3), "SQUARE": (1, 1), "LANDSCAPE": (3, 2)}
        if dimensions not in aspects:
            return self._reply(4, "dimensions参数错误")
        task = self._new_task(
            body,
            action="BLEND",
            kind="grid",
            prompt=f"blend of {len(images)} images",
            description=f"/blend {len(images)} images",
            aspect=aspects[dimensions],
        )
        return self._start_reply(task)

    async def _describe(self, request: web.Request) -> web.Response:
        body = _body(request)
        source = body.get("base64") or (body.get("link") if self.mode == "trueai" else None)
        if not self._is_image_ref(source):
            return self._reply(4, "base64格式错误")
        task = self._new_task(
            body, action="DESCRIBE", kind="describe", prompt="", description="/describe image.png"
        )
        task.final_prompt = _describe_text(task.job_hash)
        task.prompt = task.final_prompt if self.mode == "trueai" else ""
        return self._start_reply(task)

    async def _shorten(self, request: web.Request) -> web.Response:
        body = _body(request)
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            return self._reply(4, "prompt不能为空")
        task = self._new_task(
            body, action="SHORTEN", kind="shorten", prompt=prompt, description=f"/shorten {prompt}"
        )
        task.final_prompt = _shorten_text(prompt)
        return self._start_reply(task)

    async def _action(self, request: web.Request) -> web.Response:
        body = _body(request)
        task_id, custom_id = str(body.get("taskId") or ""), str(body.get("customId") or "")
        if not task_id or not custom_id:
            return self._reply(4, "taskId和customId不能为空")
        if self.mode == "new-api" and not _NEW_API_FAMILIES.match(custom_id):
            message = f"Invalid request, unknown_action:{custom_id}"
            return web.json_response(
                {"error": {"message": message, "type": "new_api_error"}}, status=400
            )
        if self.mode == "trueai" and not _TRUEAI_FAMILIES.match(custom_id):
            return self._reply(4, "未知的 Action 类型")
        parent = self.tasks.get(task_id)
        if parent is None:
            return self._missing("关联任务不存在或已失效")
        if self._status(parent)[0] != "SUCCESS":
            if self.mode == "new-api":
                return self._new_api_error("task_status_not_success")
            return self._reply(4, "关联任务状态错误")
        if custom_id not in {b["customId"] for b in _buttons(parent)}:
            return self._reply(4, "customId 无效")
        if self.mode == "plus" and custom_id.startswith(
            ("MJ::BOOKMARK", "MJ::Job::PicReader::all")
        ):
            return self._reply(4, "不支持的操作")
        return self._child(parent, custom_id, body)

    def _child(self, parent: SimTask, custom_id: str, body: dict[str, Any]) -> web.Response:
        kind, action, dialog = _child_kind(custom_id, parent)
        if custom_id == "MJ::Job::PicReader::all":
            ids = [self._imagine_line(parent, n, body).id for n in range(1, 5)]
            return self._reply(1, "Submit success", ",".join(ids))
        if custom_id == "MJ::Picread::Retry":
            task = self._new_task(
                body, action="DESCRIBE", kind="describe", prompt="", description="/describe retry"
            )
            task.final_prompt = _describe_text(task.job_hash)
            return self._start_reply(task)
        if dialog is None and self.remix and action in ("VARIATION", "REROLL", "PAN"):
            dialog = "remix"
        prompt = parent.prompt if parent.kind in ("grid", "upscale") else ""
        panel = _index(custom_id) if custom_id.startswith("MJ::JOB::upsample::") else parent.panel
        task = self._new_task(
            body,
            action=action,
            kind=kind,
            prompt=prompt,
            parent_id=parent.id,
            panel=panel,
            aspect=parent.aspect,
            bot_type=parent.bot_type,
            description=f"/{action.lower()} {parent.id}",
        )
        if dialog is None:
            return self._start_reply(task)
        return self._open_dialog(task, parent, custom_id, dialog)

    def _open_dialog(
        self, task: SimTask, parent: SimTask, custom_id: str, dialog: str
    ) -> web.Response:
        task.dialog = dialog
        if dialog == "pick":
            task.final_prompt = _pick_line(parent.final_prompt, _index(custom_id))
            task.prompt = task.final_prompt
        elif dialog == "inpaint" and self.mode == "trueai":
            task.final_prompt = ""
        else:
            task.final_prompt = parent.prompt
        self.tasks[task.id] = task
        props: dict[str, Any] = {"finalPrompt": task.final_prompt}
        if dialog == "remix" or self.mode != "plus":
            props["remix"] = True
        text = _DIALOG_TEXT.get(self.mode, "Waiting for window confirm")
        return self._reply(21, text, task.id, props, keep_21=dialog in ("zoom", "inpaint"))

    def _imagine_line(self, parent: SimTask, n: int, body: dict[str, Any]) -> SimTask:
        prompt = _pick_line(parent.final_prompt, n)
        task = self._new_task(
            body, action="IMAGINE", kind="grid", prompt=prompt, description=f"/imagine {prompt}"
        )
        task.starts_at = self._clock()
        self.tasks[task.id] = task
        return task

    async def _modal(self, request: web.Request) -> web.Response:
        body = _body(request)
        task = self.tasks.get(str(body.get("taskId") or ""))
        if task is None:
            return self._missing("任务不存在")
        if self._status(task)[0] != "MODAL":
            return self._reply(4, "任务状态错误")
        prompt = str(body.get("prompt") or "").strip() or task.final_prompt or task.prompt
        if task.dialog == "zoom" and not _valid_zoom(prompt):
            return self._reply(4, "Custom Zoom 需要 --zoom 参数 (1 < zoom <= 2)")
        if task.dialog == "inpaint" and not _is_png_data_url(body.get("maskBase64")):
            return self._reply(4, "maskBase64参数错误")
        if not prompt and task.dialog != "inpaint":
            return self._reply(4, "prompt不能为空")
        word = self._banned_word(prompt)
        if word is not None and self.mode != "trueai":
            return self._reply(24, "可能包含敏感词", None, {"promptEn": prompt, "bannedWord": word})
        task.prompt = prompt or task.prompt
        task.final_prompt = prompt
        task.kind = "grid"
        return self._start_reply(task)

    # ---- reads -------------------------------------------------------------------------------
    async def _fetch(self, request: web.Request) -> web.Response:
        task = self.tasks.get(request.match_info["id"])
        if task is not None:
            return web.json_response(self._task_json(task))
        if self.mode == "trueai":
            return web.Response(status=204)
        if self.mode == "new-api":
            return web.json_response({"code": 4, "description": "task_no_found"}, status=400)
        return web.Response(status=200)

    async def _list(self, request: web.Request) -> web.Response:
        body = _body(request)
        ids = body.get("ids")
        if not isinstance(ids, list):
            ids = []
        tasks = [self.tasks[str(i)] for i in ids if str(i) in self.tasks]
        return web.json_response([self._task_json(t) for t in tasks])

    async def _image_seed(self, request: web.Request) -> web.Response:
        task = self.tasks.get(request.match_info["id"])
        if task is None:
            return self._reply(3, "未找到 seed")
        if self._status(task)[0] != "SUCCESS":
            return self._reply(4, "任务状态错误")
        seed = int(hashlib.sha256(task.job_hash.encode()).hexdigest()[:8], 16)
        return self._reply(1, "成功", str(seed))

    async def _cancel(self, request: web.Request) -> web.Response:
        task = self.tasks.get(request.match_info["id"])
        if task is None:
            return self._missing("任务不存在")
        if self._status(task)[0] in ("SUCCESS", "FAILURE", "CANCEL"):
            return self._reply(4, "任务状态错误")
        if self.mode == "trueai":
            self._force(task.id, "FAILURE", "取消任务")
        else:
            self._force(task.id, "CANCEL", None)
        return self._reply(1, "成功")

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name") or request.match_info.get("id", "")
        task_id = name.removesuffix(".png").removesuffix("-preview")
        task = self.tasks.get(task_id)
        if task is None:
            raise web.HTTPNotFound()
        status, pct = self._status(task)
        preview = name.endswith("-preview.png") or status != "SUCCESS"
        return web.Response(
            body=self._render(task, pct if preview else None), content_type="image/png"
        )

    def _render(self, task: SimTask, preview_pct: int | None) -> bytes:
        key = f"{task.id}:{preview_pct}"
        if key not in self._images:
            if len(self._images) >= _IMAGE_CACHE_SIZE:
                self._images.pop(next(iter(self._images)))
            self._images[key] = render_png(task, preview_pct)
        return self._images[key]

    # ---- helpers -----------------------------------------------------------------------------
    def _banned_word(self, prompt: str) -> str | None:
        for word in self.banned_words:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", prompt, re.IGNORECASE):
                return word
        return None

    def _is_image_ref(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.mode == "trueai" and value.startswith(("http://", "https://")):
            return True
        return re.match(r"^data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+$", value) is not None

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


# ---- pure helpers ------------------------------------------------------------------------------
def _body(request: web.Request) -> dict[str, Any]:
    body = request.get(_JSON)
    return body if isinstance(body, dict) else {}


def _index(custom_id: str) -> int:
    """The number right after the action part (`upsample::2`, `PicReader::3`)."""
    for part in custom_id.split("::")[2:]:
        if part.isdigit():
            return int(part)
    return 1


def _child_kind(
    custom_id: str, parent: SimTask
) -> tuple[Literal["grid", "upscale"], str, str | None]:
    """(kind, action, dialog) of the job a button starts."""
    if custom_id.startswith("MJ::JOB::upsample"):
        return "upscale", "UPSCALE", None
    if custom_id.startswith("MJ::CustomZoom::"):
        return "grid", "ZOOM", "zoom"
    if custom_id.startswith("MJ::Inpaint::"):
        return "grid", "INPAINT", "inpaint"
    if custom_id.startswith(("MJ::Job::PicReader::", "MJ::Job::PromptAnalyzer::")):
        return "grid", "IMAGINE", "pick"
    if custom_id.startswith("MJ::Outpaint::"):
        return "grid", "ZOOM", None
    if custom_id.startswith("MJ::JOB::pan_"):
        return "grid", "PAN", None
    if custom_id.startswith("MJ::JOB::reroll::"):
        return "grid", "REROLL", None
    return "grid", "VARIATION", None


def _button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def _buttons(task: SimTask) -> list[dict[str, Any]]:
    """Midjourney's buttons for a finished job of this kind, in its rows and order."""
    h = task.job_hash
    if task.kind == "grid":
        return [
            *(_button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)),
            _button(f"MJ::JOB::reroll::0::{h}::SOLO", emoji="🔄"),
            *(_button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)),
        ]
    if task.kind == "upscale":
        return [
            _button(
                f"MJ::JOB::upsample_v6r1_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)", "upscale_1"
            ),
            _button(
                f"MJ::JOB::upsample_v6r1_2x_creative::1::{h}::SOLO",
                "Upscale (Creative)",
                "upscale_1",
            ),
            _button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
            _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
            _button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
            _button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
            _button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
            _button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
            _button(f"MJ::JOB::pan_left::1::{h}::SOLO", emoji="⬅️"),
            _button(f"MJ::JOB::pan_right::1::{h}::SOLO", emoji="➡️"),
            _button(f"MJ::JOB::pan_up::1::{h}::SOLO", emoji="⬆️"),
            _button(f"MJ::JOB::pan_down::1::{h}::SOLO", emoji="⬇️"),
            _button(f"MJ::BOOKMARK::{h}", emoji="❤️"),
        ]
    if task.kind == "describe":
        return [
            *(_button(f"MJ::Job::PicReader::{i}", emoji=_NUMBERS[i - 1]) for i in range(1, 5)),
            _button("MJ::Picread::Retry", emoji="🔄"),
            _button("MJ::Job::PicReader::all", "Imagine all", "🎉"),
        ]
    return [_button(f"MJ::Job::PromptAnalyzer::{i}", emoji=_NUMBERS[i - 1]) for i in range(1, 6)]


def _describe_text(seed: str) -> str:
    subjects = (
        "a lighthouse on a cliff",
        "a fox in the snow",
        "a neon city street",
        "a bowl of fruit",
    )
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16)
    lines = []
    for n in range(4):
        subject = subjects[(start + n) % len(subjects)]
        lines.append(f"{_NUMBERS[n]} {subject}, soft light, detailed illustration --ar 1:1")
    return "\n\n".join(lines)


def _shorten_text(prompt: str) -> str:
    words = [w for w in re.findall(r"[\w'-]+", prompt.split("--")[0]) if len(w) > 2][:12] or [
        "image"
    ]
    tokens = ", ".join(f"**{w}**" for w in words)  # Midjourney bolds the important tokens
    shortened = [" ".join(words[: max(1, len(words) - n)]) for n in range(5)]
    lines = "\n\n".join(f"{_NUMBERS[n]} {text}" for n, text in enumerate(shortened))
    return f"## Important tokens\n{tokens}\n\n## Shortened prompts\n\n{lines}"


def _pick_line(text: str, n: int) -> str:
    """Line `n` of a describe/shorten result, without its number emoji."""
    marker = _NUMBERS[n - 1] if 1 <= n <= len(_NUMBERS) else ""
    for line in text.splitlines():
        if marker and line.startswith(marker):
            return line.removeprefix(marker).strip()
    return text.strip()


def _valid_zoom(prompt: str) -> bool:
    match = re.search(r"--zoom\s+([0-9]*\.?[0-9]+)", prompt)
    return match is not None and 1 < float(match.group(1)) <= 2


def _is_png_data_url(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("data:image/png;base64,"):
        return False
    try:
        raw = base64.b64decode(value.split(",", 1)[1], validate=True)
    except ValueError:
        return False
    return raw.startswith(b"\x89PNG\r\n\x1a\n")


def _aspect(prompt: str) -> tuple[int, int]:
    match = re.search(r"--(?:ar|aspect)\s+(\d+):(\d+)", prompt)
    if match is None:
        return 1, 1
    w, h = int(match.group(1)), int(match.group(2))
    if not (w and h) or max(w / h, h / w) > 4:
        return 1, 1
    return w, h


def _size(aspect: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = aspect
    if w >= h:
        return long_side, max(64, round(long_side * h / w))
    return max(64, round(long_side * w / h)), long_side


def _colour(seed: str, n: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{seed}:{n}".encode()).digest()
    return 60 + digest[0] % 150, 60 + digest[1] % 150, 60 + digest[2] % 150


def _draw_panel(
    image: Image.Image,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    title: str,
    text: str,
) -> None:
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=colour)
    x0, y0, x1, _ = box
    width = x1 - x0
    font = ImageFont.load_default(size=max(12, width // 18))
    big = ImageFont.load_default(size=max(20, width // 6))
    draw.text((x0 + width // 16, y0 + width // 16), title, fill="white", font=big)
    chars = max(8, width // max(8, width // 30))
    lines = [text[i : i + chars] for i in range(0, min(len(text), chars * 6), chars)]
    y = y0 + width // 16 + width // 5
    for line in lines:
        draw.text((x0 + width // 16, y), line, fill="white", font=font)
        y += width // 14


def render_png(task: SimTask, preview_pct: int | None = None) -> bytes:
    """A small PNG: a 2x2 grid of coloured panels with the prompt, or one panel."""
    text = task.prompt or task.action.lower()
    if task.kind in ("grid",):
        w, h = _size(task.aspect, _GRID_LONG_SIDE)
        image = Image.new("RGB", (w, h), "black")
        for n in range(4):
            x, y = (n % 2) * w // 2, (n // 2) * h // 2
            box = (x, y, x + w // 2 - 1, y + h // 2 - 1)
            _draw_panel(image, box, _colour(task.job_hash, n), str(n + 1), text)
    else:
        w, h = _size(task.aspect, _UPSCALE_LONG_SIDE if task.kind == "upscale" else 512)
        image = Image.new("RGB", (w, h), "black")
        title = f"U{task.panel}" if task.kind == "upscale" else task.action.title()
        _draw_panel(image, (0, 0, w - 1, h - 1), _colour(task.job_hash, task.panel), title, text)
    if preview_pct is not None:
        image = image.resize((max(1, w // 4), max(1, h // 4))).filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8787,
    mode: Mode = "plus",
    api_key: str = "",
    prefix: str = "/mj",
    seconds_per_job: float = 6.0,
) -> None:
    """Serve a simulator until cancelled (`mjbot mock-api`)."""
    simulator = Simulator(mode, api_key=api_key, prefix=prefix, seconds_per_job=seconds_per_job)
    base_url = await simulator.start(host, port)
    log.info("Midjourney-proxy simulator (%s) serving at %s%s", mode, base_url, simulator.prefix)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
