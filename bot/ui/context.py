"""From a Discord interaction to the plain values the services take."""

from __future__ import annotations

from typing import Any

import discord

from bot.requester import Requester
from bot.ui.boundary import locale_of


def requester_of(interaction: discord.Interaction[Any]) -> Requester:
    user = interaction.user
    roles: frozenset[int] = frozenset()
    manage = False
    if isinstance(user, discord.Member):
        roles = frozenset(role.id for role in user.roles)
        manage = user.guild_permissions.manage_guild
    if interaction.permissions is not None:
        manage = manage or interaction.permissions.manage_guild
    return Requester(
        user_id=user.id,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        role_ids=roles,
        locale=locale_of(interaction),
        can_manage_guild=manage,
    )


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"
