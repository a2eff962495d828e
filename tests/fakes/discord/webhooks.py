"""Interaction callbacks and webhook routes, authenticated by the interaction token in the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits, payloads
from .wire import API_PREFIX, BODY, error, json_response, no_content

if TYPE_CHECKING:
    from .interactions import Interaction
    from .server import FakeDiscord

ACK_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0
COMPONENT, MODAL_SUBMIT, AUTOCOMPLETE = 3, 5, 4


class WebhookRoutes:
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}/...``."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def register(self, app: web.Application) -> None:
        r, p = app.router, API_PREFIX
        r.add_post(p + "/interactions/{iid}/{token}/callback", self.callback)
        r.add_post(p + "/webhooks/{app}/{token}", self.followup)
        r.add_get(p + "/webhooks/{app}/{token}/messages/{mid}", self.get_message)
        r.add_patch(p + "/webhooks/{app}/{token}/messages/{mid}", self.edit_message)
        r.add_delete(p + "/webhooks/{app}/{token}/messages/{mid}", self.delete_message)

    def _webhook(self, request: web.Request) -> tuple[Interaction | None, web.Response | None]:
        if request.match_info["app"] != str(self.fake.application_id):
            return None, error(404, 10015, "Unknown Webhook")
        handle = self.fake.interactions.get(request.match_info["token"])
        if handle is None or self.fake.clock.now() - handle.created_at > TOKEN_LIFETIME:
            return None, error(401, 50027, "Invalid Webhook Token")
        return handle, None

    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        handle = fake.interactions.get(request.match_info["token"])
        if handle is None or str(handle.id) != request.match_info["iid"]:
            return error(404, 10062, "Unknown interaction")
        if handle.response is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        late = fake.clock.now() - handle.created_at
        if late > ACK_DEADLINE:
            fake.violate(request, f"interaction acknowledged after {late:.2f} s (limit 3 s)")
            return error(404, 10062, "Unknown interaction")
        body = request[BODY]
        payload: dict[str, Any] = body.json or {}
        kind, data = payload.get("type"), payload.get("data") or {}
        message: dict[str, Any] | None = None
        if kind in (4, 5):
            if kind == 4:
                failure = fake.check_message(request, data, body.files, creating=True)
                if failure is not None:
                    return failure
            flags = (data.get("flags") or 0) | (payloads.LOADING if kind == 5 else 0)
            content = data if kind == 4 else {}
            message = await fake.store.create(
                handle.channel_id,
                content,
                body.files,
                flags=flags,
                type=20 if handle.type == 2 else 0,
                interaction=handle.payload,
            )
            handle.original_id = int(message["id"])
        elif kind in (6, 7):
            if handle.type not in (COMPONENT, MODAL_SUBMIT) or handle.source_message_id is None:
                return fake.reject(request, [f"callback type {kind} needs a component message"])
            if kind == 7:
                failure = fake.check_message(request, data, body.files, creating=False)
                if failure is not None:
                    return failure
                message = await fake.store.edit(handle.source_message_id, data, body.files)
            handle.original_id = handle.source_message_id
        elif kind == 8 and handle.type == AUTOCOMPLETE:
            if len(data.get("choices") or []) > 25:
                return fake.reject(request, ["more than 25 autocomplete choices"])
        elif kind == 9 and handle.type not in (MODAL_SUBMIT, AUTOCOMPLETE):
            problems = limits.check_modal(data)
            if problems:
                return fake.reject(request, problems)
        else:
            return fake.reject(request, [f"callback type {kind} is not valid here"])
        handle.response = payload
        fake.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        return json_response(self._callback_response(handle, kind, message))

    def _callback_response(
        self, handle: Interaction, kind: int, message: dict[str, Any] | None
    ) -> dict[str, Any]:
        info: dict[str, Any] = {"id": str(handle.id), "type": handle.type}
        if handle.original_id is not None:
            stored = self.fake.store.messages.get(handle.original_id, {})
            flags = stored.get("flags", 0)
            info["response_message_id"] = str(handle.original_id)
            info["response_message_loading"] = bool(flags & payloads.LOADING)
            info["response_message_ephemeral"] = bool(flags & payloads.EPHEMERAL)
        result: dict[str, Any] = {"interaction": info}
        if message is not None:
            result["resource"] = {"type": kind, "message": message}
        return result

    async def followup(self, request: web.Request) -> web.Response:
        handle, failure = self._webhook(request)
        if failure is not None:
            return failure
        assert handle is not None
        if handle.response is None:
            return error(404, 10015, "Unknown Webhook")
        body = request[BODY]
        payload: dict[str, Any] = body.json or {}
        failure = self.fake.check_message(request, payload, body.files, creating=True)
        if failure is not None:
            return failure
        store = self.fake.store
        original = store.messages.get(handle.original_id or 0)
        if original is not None and original["flags"] & payloads.LOADING:
            # Discord turns the first followup after a thinking defer into the original.
            message = await store.edit(int(original["id"]), payload, body.files)
        else:
            message = await store.create(
                handle.channel_id, payload, body.files, interaction=handle.payload
            )
        handle.followup_ids.append(int(message["id"]))
        self.fake.notify()
        if request.query.get("wait") not in ("1", "true", "True"):
            return no_content()
        return json_response(message)

    def _message(self, request: web.Request) -> tuple[int, web.Response | None]:
        handle, failure = self._webhook(request)
        if failure is not None:
            return 0, failure
        assert handle is not None
        raw = request.match_info["mid"]
        mid = handle.original_id if raw == "@original" else int(raw)
        if mid is None or mid not in self.fake.store.messages or mid not in handle.message_ids():
            return 0, error(404, 10008, "Unknown Message")
        return mid, None

    async def get_message(self, request: web.Request) -> web.Response:
        mid, failure = self._message(request)
        return failure or json_response(self.fake.store.messages[mid])

    async def edit_message(self, request: web.Request) -> web.Response:
        mid, failure = self._message(request)
        if failure is not None:
            return failure
        body = request[BODY]
        payload = body.json or {}
        failure = self.fake.check_message(request, payload, body.files, creating=False)
        if failure is not None:
            return failure
        return json_response(await self.fake.store.edit(mid, payload, body.files))

    async def delete_message(self, request: web.Request) -> web.Response:
        mid, failure = self._message(request)
        if failure is not None:
            return failure
        await self.fake.store.delete(mid)
        return no_content()
