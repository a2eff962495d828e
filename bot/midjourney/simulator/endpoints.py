"""The proxy's endpoints over the task queue: submits, button actions, dialogs, reads, images."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from .backends import (
    DIALOG_TEXT,
    DISCORD_INSTANCE_ID,
    Mode,
    dress_task,
    is_image_ref,
    missing,
    new_api_error,
    reply,
)
from .buttons import NEW_API_FAMILIES, TRUEAI_FAMILIES, button_index, buttons, child_kind
from .media import dress_media, image_url
from .quirks import reason_case
from .tasks import SimTask, TaskQueue, aspect_of, describe_text, pick_line, shorten_text

REQUEST_JSON = web.RequestKey("json", object)


def request_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object as the server's middleware parsed it ({} if not an object)."""
    body = request.get(REQUEST_JSON)
    return body if isinstance(body, dict) else {}


def valid_zoom(prompt: str) -> bool:
    match = re.search(r"--zoom\s+([0-9]*\.?[0-9]+)", prompt)
    return match is not None and 1 < float(match.group(1)) <= 2


def is_png_data_url(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("data:image/png;base64,"):
        return False
    try:
        raw = base64.b64decode(value.split(",", 1)[1], validate=True)
    except ValueError:
        return False
    return raw.startswith(b"\x89PNG\r\n\x1a\n")


class ProxyEndpoints(TaskQueue):
    """The request handlers of a Midjourney proxy in one backend mode; the Simulator serves them."""

    quirks: frozenset[str] = frozenset()  # the Simulator sets them (see quirks.py)

    def __init__(
        self,
        mode: Mode,
        *,
        prefix: str,
        clock: Callable[[], float],
        seconds_per_job: float,
        max_concurrent: int,
        queue_limit: int,
        banned_words: Iterable[str],
        remix: bool,
        numeric_ids: bool,
        public_base_url: str | None,
    ) -> None:
        super().__init__(clock, seconds_per_job, max_concurrent, queue_limit)
        stripped = prefix.strip().strip("/")
        self.mode: Mode = mode
        self.prefix = f"/{stripped}" if stripped else ""
        self.banned_words = tuple(banned_words)
        self.remix = remix
        self.numeric_ids = numeric_ids
        self.public_base_url = (public_base_url or "").rstrip("/")

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
        return reply(
            self.mode, self.numeric_ids, code, description, result, properties, keep_21=keep_21
        )

    def _missing(self, what: str) -> web.Response:
        """The answer for an unknown task id in submit/action and submit/modal."""
        return missing(self.mode, what)

    def _is_image_ref(self, value: Any) -> bool:
        return is_image_ref(self.mode, value)

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
        props = {"discordInstanceId": DISCORD_INSTANCE_ID, **(extra or {})}
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
            "imageUrl": image_url(self, task, status, pct),
            "progress": progress,
            "failReason": task.fail_reason if status == "FAILURE" else None,
            "buttons": buttons(task) if status == "SUCCESS" else [],
        }
        return dress_media(self, dress_task(self.mode, body, task, status), task, status)

    def _action_name(self, task: SimTask) -> str:
        if self.mode == "new-api" and task.dialog == "zoom":
            return "CUSTOM_ZOOM"
        return task.action

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
        body = request_body(request)
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
            aspect=aspect_of(prompt),
            bot_type=bot_type,
        )
        case = reason_case(self.quirks, prompt)
        if case is not None and case.at == "submit":
            return self._reply(case.code, case.reason)
        if word is not None and self.mode != "trueai":
            return self._reply(24, "可能包含敏感词", None, {"promptEn": prompt, "bannedWord": word})
        late = "可能包含敏感词" if word is not None else case.reason if case else None
        if late is not None:  # trueai checks banned words later; chinese-reasons task failures
            task.starts_at = self._clock()
            self.tasks[task.id] = task
            self._force(task.id, "FAILURE", late)
            return self._reply(1, "Submit success", task.id)
        return self._start_reply(task)

    async def _blend(self, request: web.Request) -> web.Response:
        body = request_body(request)
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
        body = request_body(request)
        source = body.get("base64") or (body.get("link") if self.mode == "trueai" else None)
        if not self._is_image_ref(source):
            return self._reply(4, "base64格式错误")
        task = self._new_task(
            body, action="DESCRIBE", kind="describe", prompt="", description="/describe image.png"
        )
        task.final_prompt = describe_text(task.job_hash)
        task.prompt = task.final_prompt if self.mode == "trueai" else ""
        return self._start_reply(task)

    async def _shorten(self, request: web.Request) -> web.Response:
        body = request_body(request)
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            return self._reply(4, "prompt不能为空")
        task = self._new_task(
            body, action="SHORTEN", kind="shorten", prompt=prompt, description=f"/shorten {prompt}"
        )
        task.final_prompt = shorten_text(prompt)
        return self._start_reply(task)

    async def _action(self, request: web.Request) -> web.Response:
        body = request_body(request)
        task_id, custom_id = str(body.get("taskId") or ""), str(body.get("customId") or "")
        if not task_id or not custom_id:
            return self._reply(4, "taskId和customId不能为空")
        if self.mode == "new-api" and not NEW_API_FAMILIES.match(custom_id):
            message = f"Invalid request, unknown_action:{custom_id}"
            return web.json_response(
                {"error": {"message": message, "type": "new_api_error"}}, status=400
            )
        if self.mode == "trueai" and not TRUEAI_FAMILIES.match(custom_id):
            return self._reply(4, "未知的 Action 类型")
        parent = self.tasks.get(task_id)
        if parent is None:
            return self._missing("关联任务不存在或已失效")
        if self._status(parent)[0] != "SUCCESS":
            if self.mode == "new-api":
                return new_api_error("task_status_not_success")
            return self._reply(4, "关联任务状态错误")
        if custom_id not in {b["customId"] for b in buttons(parent)}:
            return self._reply(4, "customId 无效")
        if self.mode == "plus" and custom_id.startswith(
            ("MJ::BOOKMARK", "MJ::Job::PicReader::all")
        ):
            return self._reply(4, "不支持的操作")
        return self._child(parent, custom_id, body)

    def _child(self, parent: SimTask, custom_id: str, body: dict[str, Any]) -> web.Response:
        kind, action, dialog = child_kind(custom_id, parent)
        if custom_id == "MJ::Job::PicReader::all":
            ids = [self._imagine_line(parent, n, body).id for n in range(1, 5)]
            return self._reply(1, "Submit success", ",".join(ids))
        if custom_id == "MJ::Picread::Retry":
            task = self._new_task(
                body, action="DESCRIBE", kind="describe", prompt="", description="/describe retry"
            )
            task.final_prompt = describe_text(task.job_hash)
            return self._start_reply(task)
        if dialog is None and self.remix and action in ("VARIATION", "REROLL", "PAN"):
            dialog = "remix"
        prompt = parent.prompt if parent.kind in ("grid", "upscale") else ""
        panel = (
            button_index(custom_id)
            if custom_id.startswith(("MJ::JOB::upsample::", "MJ::JOB::video_virtual_upscale::"))
            else parent.panel
        )
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
            task.final_prompt = pick_line(parent.final_prompt, button_index(custom_id))
            task.prompt = task.final_prompt
        elif dialog == "inpaint" and self.mode == "trueai":
            task.final_prompt = ""
        else:
            task.final_prompt = parent.prompt
        self.tasks[task.id] = task
        props: dict[str, Any] = {"finalPrompt": task.final_prompt}
        if dialog == "remix" or self.mode != "plus":
            props["remix"] = True
        text = DIALOG_TEXT.get(self.mode, "Waiting for window confirm")
        return self._reply(21, text, task.id, props, keep_21=dialog in ("zoom", "inpaint"))

    def _imagine_line(self, parent: SimTask, n: int, body: dict[str, Any]) -> SimTask:
        prompt = pick_line(parent.final_prompt, n)
        task = self._new_task(
            body, action="IMAGINE", kind="grid", prompt=prompt, description=f"/imagine {prompt}"
        )
        task.starts_at = self._clock()
        self.tasks[task.id] = task
        return task

    async def _modal(self, request: web.Request) -> web.Response:
        body = request_body(request)
        task = self.tasks.get(str(body.get("taskId") or ""))
        if task is None:
            return self._missing("任务不存在")
        if self._status(task)[0] != "MODAL":
            return self._reply(4, "任务状态错误")
        prompt = str(body.get("prompt") or "").strip() or task.final_prompt or task.prompt
        if task.dialog == "zoom" and not valid_zoom(prompt):
            return self._reply(4, "Custom Zoom 需要 --zoom 参数 (1 < zoom <= 2)")
        if task.dialog == "inpaint" and not is_png_data_url(body.get("maskBase64")):
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
        body = request_body(request)
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

    # ---- helpers -----------------------------------------------------------------------------
    def _banned_word(self, prompt: str) -> str | None:
        for word in self.banned_words:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", prompt, re.IGNORECASE):
                return word
        return None
