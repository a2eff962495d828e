"""The injection half of FakeDiscord: slash commands, clicks, selects and modal submits."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from . import interactions, limits
from .interactions import Interaction, InteractionRejected, Upload
from .models import User

if TYPE_CHECKING:
    from .server import FakeDiscord


class Injector:
    """Mixed into FakeDiscord: build each interaction as a Discord client would and send it."""

    async def _inject(self, payload: dict[str, Any], user: User) -> Interaction:
        fake = cast("FakeDiscord", self)
        if not fake.gateway.shards:
            raise RuntimeError("no bot is connected to the fake gateway")
        handle = Interaction(fake, payload, user)
        fake.interactions[handle.token] = handle
        await fake.gateway.dispatch("INTERACTION_CREATE", payload)
        return handle

    async def slash(
        self,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None = None,
        *,
        user: User | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
        attachments: Mapping[str, Upload] | None = None,
        permissions: str | int | None = None,
        force: bool = False,
    ) -> Interaction:
        """Run a synced slash command; ``name`` may be ``"a b c"`` or ``("a", "b", "c")``."""
        fake = cast("FakeDiscord", self)
        path = name.split() if isinstance(name, str) else list(name)
        guild = fake.guild_by_id(guild_id) if guild_id is not None else fake.guild
        if guild is None:
            raise InteractionRejected(f"unknown guild {guild_id}")
        channel = channel_id if channel_id is not None else guild.channels[0].id
        user = user or fake.user
        member = guild.member(user.id)
        perms = int(permissions) if permissions is not None else None
        if perms is None and member is not None:
            perms = guild.permissions_of(member)
        values = {**(options or {}), **(attachments or {})}
        data = interactions.slash_data(
            fake, path, values, guild=guild, channel_id=channel, permissions=perms or 0, force=force
        )
        payload = interactions.envelope(
            fake, 2, data, user=user, channel_id=channel, locale=locale, permissions=perms
        )
        return await fake._inject(payload, user)

    def _message_for(self, message_id: int) -> dict[str, Any]:
        fake = cast("FakeDiscord", self)
        message = fake.store.messages.get(int(message_id))
        if message is None:
            raise InteractionRejected(f"no message {message_id}")
        return copy.deepcopy(message)

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: User | None = None,
        locale: str = "en-US",
        permissions: str | int | None = None,
    ) -> Interaction:
        """Click a button on a stored message (the full message, components included, is sent)."""
        fake = cast("FakeDiscord", self)
        message = fake._message_for(message_id)
        component = interactions.find_component(message, custom_id)
        if component.get("type") != 2 or component.get("style") in (5, 6):
            raise InteractionRejected(f"{custom_id!r} is not a clickable button")
        data = {"custom_id": custom_id, "component_type": 2}
        user = user or fake.user
        payload = interactions.envelope(
            fake,
            3,
            data,
            user=user,
            channel_id=int(message["channel_id"]),
            locale=locale,
            permissions=permissions,
            message=message,
        )
        return await fake._inject(payload, user)

    async def select(
        self,
        message_id: int,
        custom_id: str,
        values: Sequence[str],
        *,
        user: User | None = None,
        locale: str = "en-US",
        permissions: str | int | None = None,
    ) -> Interaction:
        """Choose ``values`` in a select menu of a stored message."""
        fake = cast("FakeDiscord", self)
        message = fake._message_for(message_id)
        component = interactions.find_component(message, custom_id)
        if component.get("type") not in limits.SELECT_TYPES:
            raise InteractionRejected(f"{custom_id!r} is not a select menu")
        data = interactions.select_data(component, [str(v) for v in values])
        user = user or fake.user
        payload = interactions.envelope(
            fake,
            3,
            data,
            user=user,
            channel_id=int(message["channel_id"]),
            locale=locale,
            permissions=permissions,
            message=message,
        )
        return await fake._inject(payload, user)

    async def submit_modal(
        self, handle: Interaction, values: Mapping[str, Any], *, locale: str = "en-US"
    ) -> Interaction:
        """Submit the modal the bot opened in answer to ``handle`` (text or select values)."""
        fake = cast("FakeDiscord", self)
        modal = handle.modal
        if modal is None:
            raise InteractionRejected(f"{handle!r} was not answered with a modal")
        data = {
            "custom_id": modal["custom_id"],
            "components": interactions.modal_components(modal, values),
        }
        message = None
        if handle.source_message_id is not None:
            message = fake._message_for(handle.source_message_id)
        payload = interactions.envelope(
            fake,
            5,
            data,
            user=handle.user,
            channel_id=handle.channel_id,
            locale=locale,
            permissions=handle.payload.get("member", {}).get("permissions"),
            message=message,
        )
        return await fake._inject(payload, handle.user)
