"""REST routes the bot calls with its bot token: identity, commands, channels, guilds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits, payloads
from .wire import API_PREFIX, BODY, error, json_response, no_content

if TYPE_CHECKING:
    from .server import FakeDiscord

COMMAND_DEFAULTS: dict[str, Any] = {
    "type": 1,
    "description": "",
    "options": [],
    "default_member_permissions": None,
    "dm_permission": True,
    "nsfw": False,
    "contexts": None,
    "integration_types": [0],
    "name_localizations": None,
    "description_localizations": None,
}


class BotRoutes:
    """Routes under /api/v10 authenticated with ``Authorization: Bot <token>``."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def register(self, app: web.Application) -> None:
        r, p = app.router, API_PREFIX
        r.add_get(p + "/users/@me", self.me)
        r.add_get(p + "/users/{user_id}", self.get_user)
        r.add_post(p + "/users/@me/channels", self.open_dm)
        r.add_get(p + "/oauth2/applications/@me", self.application)
        r.add_get(p + "/gateway", self.gateway)
        r.add_get(p + "/gateway/bot", self.gateway)
        for path in ("/applications/{app}/commands", "/applications/{app}/guilds/{gid}/commands"):
            r.add_put(p + path, self.put_commands)
            r.add_get(p + path, self.get_commands)
        r.add_get(p + "/channels/{cid}", self.get_channel)
        r.add_get(p + "/channels/{cid}/messages", self.history)
        r.add_post(p + "/channels/{cid}/messages", self.create_message)
        r.add_get(p + "/channels/{cid}/messages/{mid}", self.get_message)
        r.add_patch(p + "/channels/{cid}/messages/{mid}", self.edit_message)
        r.add_delete(p + "/channels/{cid}/messages/{mid}", self.delete_message)
        r.add_post(p + "/channels/{cid}/typing", self.typing)
        r.add_get(p + "/guilds/{gid}", self.get_guild)
        r.add_get(p + "/guilds/{gid}/channels", self.guild_channels)
        r.add_get(p + "/guilds/{gid}/roles", self.guild_roles)
        r.add_get(p + "/guilds/{gid}/members/{uid}", self.get_member)
        app.router.add_get("/attachments/{cid}/{aid}/{filename}", self.download)

    async def me(self, request: web.Request) -> web.Response:
        return json_response(
            {**self.fake.bot_user.to_dict(), "verified": True, "mfa_enabled": False}
        )

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.fake.find_user(int(request.match_info["user_id"]))
        if user is None:
            return error(404, 10013, "Unknown User")
        return json_response(user.to_dict())

    async def open_dm(self, request: web.Request) -> web.Response:
        """POST /users/@me/channels: Discord opens (or returns) the DM channel with a user."""
        payload = request[BODY].json or {}
        user = self.fake.find_user(int(payload.get("recipient_id") or 0))
        if user is None:
            return error(400, 50035, "Invalid Form Body", {"recipient_id": "unknown user"})
        channel_id = self.fake.dm_channel_of(user)
        if channel_id is None:
            channel_id = self.fake.clock.snowflake()
            self.fake.dm_channels[channel_id] = user.id
        return json_response(
            {
                "id": str(channel_id),
                "type": 1,
                "recipients": [user.to_dict()],
                "last_message_id": None,
                "flags": 0,
            }
        )

    async def application(self, request: web.Request) -> web.Response:
        owner = self.fake.guilds[0].members[0].user if self.fake.guilds else self.fake.bot_user
        return json_response(payloads.application(self.fake.bot_user, owner))

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url.rstrip("/"),
                "shards": self.fake.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    def _scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if int(request.match_info["app"]) != self.fake.application_id:
            return None, error(403, 50001, "Missing Access")
        gid = request.match_info.get("gid")
        if gid is not None and self.fake.guild_by_id(int(gid)) is None:
            return None, error(403, 50001, "Missing Access")
        return (int(gid) if gid else None), None

    async def put_commands(self, request: web.Request) -> web.Response:
        scope, failure = self._scope(request)
        if failure is not None:
            return failure
        commands = request[BODY].json or []
        problems = limits.check_commands(commands)
        if problems:
            return self.fake.reject(request, problems)
        fake = self.fake
        previous = {(c["name"], c["type"]): c for c in fake.commands.get(scope, [])}
        stored = []
        for cmd in commands:
            full = {**COMMAND_DEFAULTS, **cmd}
            old = previous.get((full["name"], full["type"]))
            full["id"] = old["id"] if old else str(fake.clock.snowflake())
            full["application_id"] = str(fake.application_id)
            full["version"] = str(fake.clock.snowflake())
            if scope is not None:
                full["guild_id"] = str(scope)
            stored.append(full)
        fake.commands[scope] = stored
        return json_response(stored)

    async def get_commands(self, request: web.Request) -> web.Response:
        scope, failure = self._scope(request)
        if failure is not None:
            return failure
        return json_response(self.fake.commands.get(scope, []))

    def _channel(self, request: web.Request) -> tuple[int, web.Response | None]:
        cid = int(request.match_info["cid"])
        if self.fake.guild_of_channel(cid) is None and cid not in self.fake.dm_channels:
            return cid, error(404, 10003, "Unknown Channel")
        return cid, None

    async def get_channel(self, request: web.Request) -> web.Response:
        cid, failure = self._channel(request)
        if failure is not None:
            return failure
        guild = self.fake.guild_of_channel(cid)
        assert guild is not None
        channel = guild.channel(cid)
        assert channel is not None
        return json_response(channel.to_dict(guild.id))

    async def history(self, request: web.Request) -> web.Response:
        cid, failure = self._channel(request)
        if failure is not None:
            return failure
        limit = min(int(request.query.get("limit", "50")), 100)
        messages = self.fake.store.visible(cid)
        if "before" in request.query:
            messages = [m for m in messages if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            after = [m for m in messages if int(m["id"]) > int(request.query["after"])]
            return json_response(list(reversed(after[:limit])))
        return json_response(list(reversed(messages))[:limit])

    async def create_message(self, request: web.Request) -> web.Response:
        cid, failure = self._channel(request)
        if failure is not None:
            return failure
        if self.fake.dm_channels.get(cid) in self.fake.dms_closed:
            return error(403, 50007, "Cannot send messages to this user")
        body = request[BODY]
        payload = body.json or {}
        failure = self.fake.check_message(request, payload, body.files, creating=True)
        if failure is not None:
            return failure
        referenced = None
        reference = payload.get("message_reference")
        if reference:
            referenced = self.fake.store.messages.get(int(reference.get("message_id", 0)))
            if referenced is None or referenced["channel_id"] != str(cid):
                if reference.get("fail_if_not_exists", True):
                    errors = {
                        "message_reference": {
                            "_errors": [
                                {
                                    "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                    "message": "Unknown message",
                                }
                            ]
                        }
                    }
                    return error(400, 50035, "Invalid Form Body", errors)
                referenced = None
        if referenced is not None:  # Discord nests one level only
            referenced = {k: v for k, v in referenced.items() if k != "referenced_message"}
        message = await self.fake.store.create(cid, payload, body.files, referenced=referenced)
        return json_response(message)

    def _message(self, request: web.Request) -> tuple[int, web.Response | None]:
        cid, failure = self._channel(request)
        if failure is not None:
            return 0, failure
        mid = int(request.match_info["mid"])
        message = self.fake.store.messages.get(mid)
        if (
            message is None
            or message["channel_id"] != str(cid)
            or self.fake.store.meta[mid].ephemeral
        ):
            return mid, error(404, 10008, "Unknown Message")
        return mid, None

    async def get_message(self, request: web.Request) -> web.Response:
        mid, failure = self._message(request)
        return failure or json_response(self.fake.store.messages[mid])

    async def edit_message(self, request: web.Request) -> web.Response:
        mid, failure = self._message(request)
        if failure is not None:
            return failure
        if self.fake.store.messages[mid]["author"]["id"] != str(self.fake.bot_user.id):
            return error(403, 50005, "Cannot edit a message authored by another user")
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

    async def typing(self, request: web.Request) -> web.Response:
        _, failure = self._channel(request)
        return failure or no_content()

    def _guild(self, request: web.Request) -> Any:
        return self.fake.guild_by_id(int(request.match_info["gid"]))

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return json_response(guild.to_dict())

    async def guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return json_response([c.to_dict(guild.id) for c in guild.channels])

    async def guild_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return json_response([r.to_dict() for r in guild.roles])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        member = guild.member(int(request.match_info["uid"]))
        if member is None:
            return error(404, 10007, "Unknown Member")
        return json_response(member.to_dict())

    async def download(self, request: web.Request) -> web.Response:
        stored = self.fake.store.files.get(int(request.match_info["aid"]))
        if stored is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})
