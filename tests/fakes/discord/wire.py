"""HTTP plumbing of the fake: body parsing, recording, injected errors, auth, JSON responses."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Middleware

from .store import UploadedFile

if TYPE_CHECKING:
    from .server import FakeDiscord

API_PREFIX = "/api/v10"
# Routes that Discord authenticates by the token in the URL, not by the bot token.
UNAUTHENTICATED = re.compile(r"^/(webhooks|interactions)/")


@dataclass
class RecordedRequest:
    """One request the bot made, as the fake received it (Authorization removed)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    headers: dict[str, str]
    status: int | None = None


@dataclass
class InjectedError:
    method: str | None
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: float
    body: dict[str, Any] | None = None


@dataclass
class Body:
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)


BODY = web.RequestKey("fake_discord_body", Body)
RECORD = web.RequestKey("fake_discord_record", RecordedRequest)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """discord.py compares Content-Type with ``==``: no charset suffix allowed."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error(status: int, code: int, message: str, errors: Any = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def no_content() -> web.Response:
    return web.Response(status=204)


async def parse_body(request: web.Request) -> Body:
    if request.content_type.startswith("multipart/"):
        body = Body()
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body.json = json.loads(data)
            else:
                content_type = part.headers.get("Content-Type")
                body.files.append(
                    UploadedFile(part.name or "", part.filename or "", data, content_type)
                )
        return body
    raw = await request.read()
    if not raw:
        return Body()
    if request.content_type == "application/json":
        return Body(json.loads(raw))
    return Body(raw.decode(errors="replace"))


def relative_path(request: web.Request) -> str:
    path = request.path
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(fake: FakeDiscord) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/":  # the gateway websocket
            return await handler(request)
        body = await parse_body(request)
        path = relative_path(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        record = RecordedRequest(
            request.method, path, dict(request.query), body.json, body.files, headers
        )
        request[BODY] = body
        request[RECORD] = record
        fake.requests.append(record)
        response: web.StreamResponse | None = _injected(fake, request.method, path)
        if response is None and request.path.startswith(API_PREFIX):
            if not UNAUTHENTICATED.match(path):
                if request.headers.get("Authorization") != f"Bot {fake.token}":
                    response = error(401, 0, "401: Unauthorized")
        limit_headers: dict[str, str] = {}
        if response is None and request.path.startswith(API_PREFIX):
            limit_headers, response = fake.rate_limits.check(
                request.method, path, fake.application_id
            )
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = error(exc.status, 0, f"{exc.status}: {exc.reason}")
            response.headers.update(limit_headers)
        record.status = response.status
        fake.notify()
        return response

    return middleware


def _injected(fake: FakeDiscord, method: str, path: str) -> web.Response | None:
    for injected in fake.injected_errors:
        if injected.times <= 0:
            continue
        if injected.method not in (None, "*", method) or not injected.path.search(path):
            continue
        injected.times -= 1
        if injected.status == 429:
            body = injected.body or {
                "message": "You are being rate limited.",
                "retry_after": injected.retry_after,
                "global": False,
            }
            headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(injected.retry_after)))}
            return json_response(body, 429, headers)
        body = injected.body or {"message": f"{injected.status}: injected", "code": 0}
        return json_response(body, injected.status)
    return None
