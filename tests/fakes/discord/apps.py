"""Context-menu commands (user and message), autocomplete, and direct-message channels."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import interactions
from .interactions import Interaction, InteractionRejected
from .models import ADMINISTRATOR, User

if TYPE_CHECKING:
    from .server import FakeDiscord

USER_COMMAND, MESSAGE_COMMAND = 2, 3
APPLICATION_COMMAND, AUTOCOMPLETE = 2, 4
CANNOT_MESSAGE_USER = 50007


def _menu(fake: FakeDiscord, name: str, kind: int, guild_id: int) -> dict[str, Any]:
    candidates = fake.commands.get(guild_id, []) + fake.commands.get(None, [])
    command = next((c for c in candidates if c["name"] == name and c["type"] == kind), None)
    if command is None:
        what = "user" if kind == USER_COMMAND else "message"
        raise InteractionRejected(f"no {what} context menu {name!r} was synced")
    return command


def _visible(command: dict[str, Any], permissions: int) -> None:
    required = command.get("default_member_permissions")
    if required is None or permissions & ADMINISTRATOR:
        return
    if int(required) & ~permissions:
        raise InteractionRejected(
            f"{command['name']!r} is not offered to this member (needs permissions {required});"
            " pass force=True to simulate an Integrations override"
        )


class AppsInjector:
    """Mixed into FakeDiscord: right-click menus, autocomplete, DMs."""

    async def context_menu(
        self,
        name: str,
        target: User | dict[str, Any],
        *,
        user: User | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
        permissions: int | None = None,
        force: bool = False,
    ) -> Interaction:
        """Apps → ``name`` on a member (``User``) or a stored message (its dict)."""
        fake: FakeDiscord = self  # type: ignore[assignment]
        user = user or fake.user
        guild = fake.guild
        member = guild.member(user.id)
        perms = permissions if permissions is not None else guild.permissions_of(member)  # type: ignore[arg-type]
        if isinstance(target, User):
            command = _menu(fake, name, USER_COMMAND, guild.id)
            resolved: dict[str, Any] = {"users": {str(target.id): target.to_dict()}}
            target_member = guild.member(target.id)
            if target_member is not None:
                data = target_member.to_dict(with_user=False)
                data["permissions"] = str(guild.permissions_of(target_member))
                resolved["members"] = {str(target.id): data}
            target_id = str(target.id)
            channel = channel_id or guild.channels[0].id
        else:
            command = _menu(fake, name, MESSAGE_COMMAND, guild.id)
            message = fake.store.messages.get(int(target["id"]))
            if message is None:
                raise InteractionRejected(f"no message {target['id']}")
            resolved = {"messages": {message["id"]: copy.deepcopy(message)}}
            target_id = message["id"]
            channel = int(message["channel_id"])
        if not force:
            _visible(command, perms)
        body = {
            "id": command["id"],
            "name": command["name"],
            "type": command["type"],
            "target_id": target_id,
            "resolved": resolved,
        }
        if command.get("guild_id"):
            body["guild_id"] = command["guild_id"]
        payload = interactions.envelope(
            fake,
            APPLICATION_COMMAND,
            body,
            user=user,
            channel_id=channel,
            locale=locale,
            permissions=perms,
        )
        return await fake._inject(payload, user)

    async def autocomplete(
        self,
        name: str,
        focused: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: User | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        """A member types into option ``focused`` of ``/name``; the bot answers with choices."""
        fake: FakeDiscord = self  # type: ignore[assignment]
        user = user or fake.user
        guild = fake.guild
        command, _ = interactions.find_command(fake, [name], guild.id)
        specs = {o["name"]: o for o in command.get("options") or []}
        if not specs.get(focused, {}).get("autocomplete"):
            raise InteractionRejected(f"/{name} option {focused!r} has no autocomplete")
        values = dict(options or {})
        sent = [
            {
                "name": key,
                "type": specs[key]["type"],
                "value": str(value) if key == focused else value,
                **({"focused": True} if key == focused else {}),
            }
            for key, value in values.items()
            if key in specs
        ]
        if focused not in values:
            sent.append(
                {"name": focused, "type": specs[focused]["type"], "value": "", "focused": True}
            )
        body = {"id": command["id"], "name": name, "type": 1, "options": sent}
        if command.get("guild_id"):
            body["guild_id"] = command["guild_id"]
        payload = interactions.envelope(
            fake, AUTOCOMPLETE, body, user=user, channel_id=guild.channels[0].id, locale=locale
        )
        return await fake._inject(payload, user)

    # -- direct messages --------------------------------------------------------------------

    def dm_channel_of(self, user: User) -> int | None:
        fake: FakeDiscord = self  # type: ignore[assignment]
        return next((cid for cid, uid in fake.dm_channels.items() if uid == user.id), None)

    def dms(self, user: User) -> list[dict[str, Any]]:
        """The messages the bot sent to ``user`` by DM, oldest first."""
        fake: FakeDiscord = self  # type: ignore[assignment]
        channel = self.dm_channel_of(user)
        return [] if channel is None else fake.store.visible(channel)

    def close_dms(self, user: User) -> None:
        """The member allows no DMs from server members: sends to them fail with 50007."""
        fake: FakeDiscord = self  # type: ignore[assignment]
        fake.dms_closed.add(user.id)
