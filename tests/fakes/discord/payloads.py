"""Builders for every payload the fake sends: READY, GUILD_CREATE, messages, interactions.

Keep the interaction envelope here and only here: discord.py raises inside its gateway parser
(killing ``Client.connect()``) when a required field such as ``attachment_size_limit`` is missing.
"""

from __future__ import annotations

from typing import Any

from .models import ALL_PERMISSIONS, Guild, Member, User

INTERACTION_VERSION = 1
LOADING = 1 << 7
EPHEMERAL = 1 << 6
COMPONENTS_V2 = 1 << 15


def application(bot: User, owner: User) -> dict[str, Any]:
    return {
        "id": str(bot.id),
        "name": bot.username,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner.to_dict(),
        "verify_key": "0" * 64,
        "team": None,
        "flags": 0,
        "interactions_endpoint_url": None,
        "bot": bot.to_dict(),
    }


def ready(
    bot: User,
    guilds: list[Guild],
    session_id: str,
    resume_url: str,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    return {
        "v": 10,
        "user": {**bot.to_dict(), "verified": True, "mfa_enabled": False},
        "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "shard": list(shard),
        "application": {"id": str(bot.id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "user_settings": {},
        "_trace": ["fake-discord"],
    }


def guild_create(guild: Guild) -> dict[str, Any]:
    return {
        **guild.to_dict(),
        "unavailable": False,
        "large": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "member_count": len(guild.members),
        "channels": [c.to_dict(guild.id) for c in guild.channels],
        "members": [m.to_dict() for m in guild.members],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def members_chunk(guild: Guild, members: list[Member], nonce: str | None) -> dict[str, Any]:
    return {
        "guild_id": str(guild.id),
        "members": [m.to_dict() for m in members],
        "chunk_index": 0,
        "chunk_count": 1,
        "not_found": [],
        "nonce": nonce,
    }


def attachment(
    *,
    id: int,
    filename: str,
    size: int,
    url: str,
    content_type: str | None,
    description: Any = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
        "flags": 0,
    }
    if description is not None:
        data["description"] = description
    return data


def message(
    *,
    id: int,
    channel_id: int,
    guild: Guild | None,
    author: User,
    timestamp: str,
    body: dict[str, Any],
    attachments: list[dict[str, Any]],
    flags: int = 0,
    type: int = 0,
    webhook_id: int | None = None,
    interaction_metadata: dict[str, Any] | None = None,
    referenced_message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A full message object from what the bot sent (``body``) plus what Discord adds."""
    data: dict[str, Any] = {
        "id": str(id),
        "channel_id": str(channel_id),
        "type": type,
        "author": author.to_dict(),
        "content": body.get("content") or "",
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "attachments": attachments,
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "timestamp": timestamp,
        "edited_timestamp": None,
        "flags": flags,
        "pinned": False,
        "tts": bool(body.get("tts", False)),
        "sticker_items": [],
    }
    if body.get("nonce") is not None:
        data["nonce"] = body["nonce"]
    if guild is not None:
        data["guild_id"] = str(guild.id)
        me = guild.member(author.id)
        if me is not None:
            data["member"] = me.to_dict(with_user=False)
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
        data["application_id"] = str(webhook_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    if referenced_message is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": referenced_message["id"],
            "channel_id": str(channel_id),
            **({"guild_id": str(guild.id)} if guild is not None else {}),
        }
        data["referenced_message"] = referenced_message
    return data


def interaction(
    *,
    id: int,
    application_id: int,
    type: int,
    token: str,
    guild: Guild | None,
    channel: dict[str, Any],
    user: User,
    permissions: int,
    locale: str,
    data: dict[str, Any],
    attachment_size_limit: int,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The INTERACTION_CREATE envelope, with every field discord.py 2.4-2.7 requires."""
    payload: dict[str, Any] = {
        "id": str(id),
        "application_id": str(application_id),
        "type": type,
        "token": token,
        "version": INTERACTION_VERSION,
        "attachment_size_limit": attachment_size_limit,
        "channel_id": channel["id"],
        "channel": channel,
        "app_permissions": str(ALL_PERMISSIONS),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "data": data,
    }
    if guild is not None:
        member = guild.member(user.id) or Member(user)
        payload["guild_id"] = str(guild.id)
        payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = {**member.to_dict(), "permissions": str(permissions)}
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
        payload["context"] = 0
    else:
        payload["user"] = user.to_dict()
        payload["authorizing_integration_owners"] = {"1": str(user.id)}
        payload["context"] = 1
    if message is not None:
        payload["message"] = message
    return payload


def interaction_metadata(interaction: dict[str, Any], user: User) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": interaction["id"],
        "type": interaction["type"],
        "user": user.to_dict(),
        "authorizing_integration_owners": interaction["authorizing_integration_owners"],
    }
    if interaction["type"] == 2:
        meta["name"] = interaction["data"]["name"]
        meta["command_type"] = interaction["data"].get("type", 1)
    if interaction["type"] == 3 and "message" in interaction:
        meta["interacted_message_id"] = interaction["message"]["id"]
    return meta
