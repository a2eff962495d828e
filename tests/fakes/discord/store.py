"""Messages and hosted attachment bytes, with Discord's create/edit/delete semantics."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import payloads
from .gateway import GUILD_MESSAGES
from .models import User

if TYPE_CHECKING:
    from .server import FakeDiscord


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request, as the bot sent it."""

    field: str
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class StoredFile:
    id: int
    filename: str
    data: bytes
    content_type: str


@dataclass
class MessageMeta:
    ephemeral: bool
    interaction_id: int | None


def file_index(field: str) -> int | None:
    """``files[3]`` -> 3 (discord.py names file parts this way)."""
    if field.startswith("files[") and field.endswith("]"):
        inner = field[6:-1]
        return int(inner) if inner.isdigit() else None
    return None


class MessageStore:
    """Every message the fake knows, by id, plus the bytes of every hosted attachment."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.messages: dict[int, dict[str, Any]] = {}
        self.meta: dict[int, MessageMeta] = {}
        self.files: dict[int, StoredFile] = {}

    def host(
        self, channel_id: int, filename: str, data: bytes, *, description: Any = None
    ) -> dict[str, Any]:
        """Store bytes under a new snowflake and return the attachment object serving them."""
        att_id = self.fake.clock.snowflake()
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.files[att_id] = StoredFile(att_id, filename, data, content_type)
        url = f"{self.fake.http_base}/attachments/{channel_id}/{att_id}/{quote(filename)}"
        return payloads.attachment(
            id=att_id,
            filename=filename,
            size=len(data),
            url=url,
            content_type=content_type,
            description=description,
        )

    def _attachments(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[UploadedFile],
        existing: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Apply ``attachments``: keep listed existing ids, link ``files[n]`` to entry ``id: n``."""
        uploads = {file_index(f.field): f for f in files}
        entries = body.get("attachments")
        if entries is None:
            # No list: the existing attachments stay and every upload is added.
            return existing + [self.host(channel_id, f.filename, f.data) for f in files]
        by_id = {a["id"]: a for a in existing}
        result: list[dict[str, Any]] = []
        linked: set[int | None] = set()
        for entry in entries:
            key = str(entry.get("id"))
            if key in by_id:
                result.append(by_id[key])
                continue
            index = int(key) if key.isdigit() else None
            upload = uploads.get(index)
            if upload is None:
                continue
            linked.add(index)
            name = entry.get("filename") or upload.filename
            description = entry.get("description")
            result.append(self.host(channel_id, name, upload.data, description=description))
        # Discord also accepts uploads that the list does not mention.
        result += [
            self.host(channel_id, f.filename, f.data) for i, f in uploads.items() if i not in linked
        ]
        return result

    async def create(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        author: User | None = None,
        flags: int = 0,
        type: int = 0,
        interaction: dict[str, Any] | None = None,
        referenced: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        fake = self.fake
        guild = fake.guild_of_channel(channel_id)
        msg_id = fake.clock.snowflake()
        attachments = self._attachments(channel_id, body, files, [])
        flags |= (body.get("flags") or 0) & ~payloads.LOADING
        metadata = None
        if interaction is not None:
            user = fake.user_by_id(int(_interaction_user_id(interaction)))
            metadata = payloads.interaction_metadata(interaction, user)
        message = payloads.message(
            id=msg_id,
            channel_id=channel_id,
            guild=guild,
            author=author or fake.bot_user,
            timestamp=fake.clock.iso(),
            body=body,
            attachments=attachments,
            flags=flags,
            type=19 if referenced is not None else type,
            webhook_id=fake.application_id if interaction is not None else None,
            interaction_metadata=metadata,
            referenced_message=referenced,
        )
        ephemeral = bool(flags & payloads.EPHEMERAL)
        self.messages[msg_id] = message
        self.meta[msg_id] = MessageMeta(ephemeral, int(interaction["id"]) if interaction else None)
        if not ephemeral:
            event = message
            if author is not None and not author.bot and not fake.gateway.wants_content():
                # Without the message content intent Discord blanks other users' messages.
                event = {**message, "content": "", "embeds": [], "attachments": []}
                event["components"] = []
            await fake.dispatch("MESSAGE_CREATE", event, intent=GUILD_MESSAGES)
        fake.notify()
        return message

    async def edit(
        self,
        message_id: int,
        body: dict[str, Any],
        files: list[UploadedFile],
    ) -> dict[str, Any]:
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                message[key] = body[key] if body[key] is not None else empty
        if "flags" in body and body["flags"] is not None:
            keep = message["flags"] & (payloads.EPHEMERAL | payloads.COMPONENTS_V2)
            message["flags"] = keep | (body["flags"] & ~(payloads.LOADING | payloads.EPHEMERAL))
        else:
            message["flags"] &= ~payloads.LOADING
        if "attachments" in body or files:
            message["attachments"] = self._attachments(
                channel_id, body, files, message["attachments"]
            )
        message["edited_timestamp"] = self.fake.clock.iso()
        if not self.meta[message_id].ephemeral:
            await self.fake.dispatch("MESSAGE_UPDATE", message, intent=GUILD_MESSAGES)
        self.fake.notify()
        return message

    async def delete(self, message_id: int) -> None:
        message = self.messages.pop(message_id)
        meta = self.meta.pop(message_id)
        for attachment in message.get("attachments") or []:
            # Discord's CDN stops serving a deleted message's attachments.
            self.files.pop(int(attachment["id"]), None)
        if not meta.ephemeral:
            event = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                event["guild_id"] = message["guild_id"]
            await self.fake.dispatch("MESSAGE_DELETE", event, intent=GUILD_MESSAGES)
        self.fake.notify()

    def visible(self, channel_id: int) -> list[dict[str, Any]]:
        """Non-ephemeral messages of a channel, oldest first (what channel history shows)."""
        return [
            m
            for mid, m in self.messages.items()
            if m["channel_id"] == str(channel_id) and not self.meta[mid].ephemeral
        ]


def _interaction_user_id(interaction: dict[str, Any]) -> str:
    if "member" in interaction:
        return str(interaction["member"]["user"]["id"])
    return str(interaction["user"]["id"])
