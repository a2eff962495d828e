"""How the plus, trueai and new-api backends differ: auth, reply envelopes, task JSON."""

from __future__ import annotations

import re
from typing import Any, Literal

from aiohttp import web

from .tasks import SimTask

Mode = Literal["plus", "trueai", "new-api"]

DIALOG_TEXT = {"plus": "窗口等待", "trueai": "Waiting for window confirm"}
DISCORD_INSTANCE_ID = "1118138338562560102"


def authorised(mode: Mode, api_key: str, headers: dict[str, str]) -> bool:
    """Whether the (lower-cased) headers carry the key, the way this backend reads them."""
    if not api_key:
        return True
    auth = headers.get("authorization", "")
    secret = headers.get("mj-api-secret", "")
    if mode == "plus":
        return secret == api_key
    if mode == "trueai":  # compared verbatim: "Bearer " is not stripped
        return (auth if "authorization" in headers else secret) == api_key
    key = auth.removeprefix("Bearer ")
    if key in ("", "midjourney-proxy"):
        key = secret.removeprefix("Bearer ")
    return key.removeprefix("sk-") == api_key.removeprefix("sk-")


def refusal(mode: Mode, headers: dict[str, str]) -> web.Response:
    """This backend's answer to a request without the right key."""
    if mode == "plus":
        return web.Response(status=401)
    if mode == "trueai":
        missing = "authorization" not in headers and "mj-api-secret" not in headers
        text = "Authorization header missing." if missing else "未登录"
        return web.Response(status=401 if missing else 403, text=text)
    return web.json_response(
        {"error": {"message": "无效的令牌 (invalid token)", "type": "new_api_error"}},
        status=401,
    )


def reply(
    mode: Mode,
    numeric_ids: bool,
    code: int,
    description: str,
    result: str | None = None,
    properties: dict[str, Any] | None = None,
    *,
    keep_21: bool = False,
) -> web.Response:
    """The `{code, description, result, properties}` envelope of a submit answer."""
    if mode == "new-api" and (code == 22 or (code == 21 and not keep_21)):
        code = 1  # new-api's string replace of "code":21 / "code":22
    payload: dict[str, Any] = {"code": code, "description": description}
    if result is not None:
        payload["result"] = int(result) if numeric_ids and result.isdigit() else result
    if properties or mode != "new-api":
        payload["properties"] = properties or {}
    else:
        payload["properties"] = None
    return web.json_response(payload)


def new_api_error(description: str, code: int = 4) -> web.Response:
    body = {"description": f"{description} ", "type": "upstream_error", "code": code}
    return web.json_response(body, status=400)


def missing(mode: Mode, what: str) -> web.Response:
    """The answer for an unknown task id in submit/action and submit/modal."""
    if mode == "new-api":
        return new_api_error("task_not_found")
    status = 404 if mode == "trueai" else 200
    return web.json_response({"code": 3, "description": what}, status=status)


def is_image_ref(mode: Mode, value: Any) -> bool:
    """A data URL (any backend) or, on trueai, an http(s) link."""
    if not isinstance(value, str):
        return False
    if mode == "trueai" and value.startswith(("http://", "https://")):
        return True
    return re.match(r"^data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+$", value) is not None


def dress_task(mode: Mode, body: dict[str, Any], task: SimTask, status: str) -> dict[str, Any]:
    """Add this backend's own fields and properties to the common task JSON `body`."""
    final = {"finalPrompt": task.final_prompt or task.prompt}
    if mode == "new-api":
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
        "discordInstanceId": DISCORD_INSTANCE_ID,
    }
    if mode == "trueai":
        body.update(botType=task.bot_type, parentId=task.parent_id, seed=None)
        url = body["imageUrl"]
        body["imageUrls"] = [{"url": url, "thumbnail": url}] if status == "SUCCESS" and url else []
    return body
