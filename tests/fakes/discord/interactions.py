"""Interaction injection (slash commands, clicks, selects, modal submits) and the test handle."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import payloads
from .limits import walk
from .models import ADMINISTRATOR, ALL_PERMISSIONS, Channel, Guild, Role, User

if TYPE_CHECKING:
    from .server import FakeDiscord

Upload = bytes | tuple[str, bytes]
SUBCOMMAND, GROUP = 1, 2
USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT = 6, 7, 8, 9, 11


class InteractionRejected(AssertionError):
    """The interaction could not happen in a real Discord client (hidden command, bad value...)."""


class Interaction:
    """A handle on one injected interaction: what the bot answered, and how."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], user: User) -> None:
        self.fake = fake
        self.payload = payload
        self.user = user
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id = int(payload["channel_id"])
        self.created_at = fake.clock.now()
        self.response: dict[str, Any] | None = None
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        message = payload.get("message")
        self.source_message_id: int | None = int(message["id"]) if message else None

    def __repr__(self) -> str:
        return f"<Interaction id={self.id} type={self.type} response_type={self.response_type}>"

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else self.response.get("type")

    @property
    def ephemeral(self) -> bool:
        if self.response is None:
            return False
        return bool(((self.response.get("data") or {}).get("flags") or 0) & payloads.EPHEMERAL)

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal (``data`` of a type-9 callback) the bot opened, if any."""
        if self.response is None or self.response.get("type") != 9:
            return None
        return self.response.get("data")

    @property
    def original(self) -> dict[str, Any] | None:
        return self.fake.store.messages.get(self.original_id or 0)

    @property
    def followups(self) -> list[dict[str, Any]]:
        """Messages sent through followup webhooks (the first after a defer is the original)."""
        messages = self.fake.store.messages
        return [messages[i] for i in self.followup_ids if i in messages]

    def message_ids(self) -> set[int]:
        ids = set(self.followup_ids)
        for mid in (self.original_id, self.source_message_id):
            if mid is not None:
                ids.add(mid)
        return ids

    async def wait_response(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
        """The callback body ``{"type", "data"}`` once the bot has acknowledged."""
        return await self.fake.wait_for(lambda: self.response, timeout)

    async def wait_original(
        self,
        predicate: Callable[[dict[str, Any]], Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
    ) -> dict[str, Any]:
        """The original response message once it exists (and satisfies ``predicate``)."""

        def ready() -> dict[str, Any] | None:
            message = self.original
            if message is None or (predicate is not None and not predicate(message)):
                return None
            return message

        return await self.fake.wait_for(ready, timeout)

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
        return await self.fake.wait_for(
            lambda: self.followups if len(self.followups) >= count else None, timeout
        )


def _channel_payload(guild: Guild | None, channel: Channel, permissions: int) -> dict[str, Any]:
    data = channel.to_dict(guild.id) if guild is not None else {"id": str(channel.id), "type": 1}
    data["permissions"] = str(permissions)
    return data


def envelope(
    fake: FakeDiscord,
    kind: int,
    data: dict[str, Any],
    *,
    user: User,
    channel_id: int,
    locale: str = "en-US",
    permissions: str | int | None = None,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    guild = fake.guild_of_channel(channel_id)
    if guild is None:
        raise InteractionRejected(f"unknown channel {channel_id}")
    member = guild.member(user.id)
    if member is None:
        raise InteractionRejected(f"{user.username} is not a member of {guild.name}")
    perms = int(permissions) if permissions is not None else guild.permissions_of(member)
    channel = guild.channel(channel_id)
    assert channel is not None
    return payloads.interaction(
        id=fake.clock.snowflake(),
        application_id=fake.application_id,
        type=kind,
        token=f"fake-interaction-{secrets.token_urlsafe(24)}",
        guild=guild,
        channel=_channel_payload(guild, channel, perms),
        user=user,
        permissions=perms,
        locale=locale,
        data=data,
        attachment_size_limit=fake.attachment_size_limit,
        message=message,
    )


def find_command(
    fake: FakeDiscord, path: Sequence[str], guild_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The synced command and the nesting of its subcommand options, by name path."""
    candidates = fake.commands.get(guild_id, []) + fake.commands.get(None, [])
    command = next((c for c in candidates if c["name"] == path[0] and c["type"] == 1), None)
    if command is None:
        raise InteractionRejected(f"/{path[0]} was not synced (globally or to guild {guild_id})")
    chain: list[dict[str, Any]] = []
    node = command
    for part in path[1:]:
        subs = [o for o in node.get("options") or [] if o["type"] in (SUBCOMMAND, GROUP)]
        node = next((o for o in subs if o["name"] == part), {})
        if not node:
            raise InteractionRejected(f"/{' '.join(path)}: no subcommand {part!r}")
        chain.append(node)
    if any(o["type"] in (SUBCOMMAND, GROUP) for o in node.get("options") or []):
        raise InteractionRejected(f"/{' '.join(path)} needs a subcommand")
    return command, chain


def _check_visible(command: dict[str, Any], permissions: int) -> None:
    required = command.get("default_member_permissions")
    if required is None or permissions & ADMINISTRATOR:
        return
    if int(required) & ~permissions:
        raise InteractionRejected(
            f"/{command['name']} is hidden from this member (needs permissions {required});"
            " pass force=True to simulate an Integrations override"
        )


def build_options(
    fake: FakeDiscord,
    schema: list[dict[str, Any]],
    values: Mapping[str, Any],
    guild: Guild,
    channel_id: int,
    where: str,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Typed options plus ``resolved`` data, validated against the synced schema."""
    by_name = {o["name"]: o for o in schema}
    unknown = set(values) - set(by_name)
    if unknown:
        raise InteractionRejected(f"{where}: unknown options {sorted(unknown)}")
    options: list[dict[str, Any]] = []
    resolved: dict[str, dict[str, Any]] = {}
    for spec in schema:
        name = spec["name"]
        if name not in values:
            if spec.get("required"):
                raise InteractionRejected(f"{where}: option {name!r} is required")
            continue
        value = _option_value(fake, spec, values[name], guild, channel_id, resolved, where)
        options.append({"name": name, "type": spec["type"], "value": value})
    return options, resolved


def _option_value(
    fake: FakeDiscord,
    spec: dict[str, Any],
    raw: Any,
    guild: Guild,
    channel_id: int,
    resolved: dict[str, dict[str, Any]],
    where: str,
) -> Any:
    kind = spec["type"]
    if kind == ATTACHMENT:
        filename, data = raw if isinstance(raw, tuple) else (f"{spec['name']}.png", raw)
        attachment = fake.store.host(channel_id, filename, data)
        attachment["ephemeral"] = True
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        return attachment["id"]
    if kind in (USER, MENTIONABLE) and isinstance(raw, User | int) and _is_user(fake, raw):
        user = raw if isinstance(raw, User) else fake.find_user(raw)
        assert user is not None
        resolved.setdefault("users", {})[str(user.id)] = user.to_dict()
        member = guild.member(user.id)
        if member is not None:
            data = member.to_dict(with_user=False)
            data["permissions"] = str(guild.permissions_of(member))
            resolved.setdefault("members", {})[str(user.id)] = data
        return str(user.id)
    if kind in (ROLE, MENTIONABLE):
        role = raw if isinstance(raw, Role) else guild.role(int(raw))
        if role is None:
            raise InteractionRejected(f"{where}: unknown role {raw!r}")
        resolved.setdefault("roles", {})[str(role.id)] = role.to_dict()
        return str(role.id)
    if kind == CHANNEL:
        channel = raw if isinstance(raw, Channel) else guild.channel(int(raw))
        if channel is None:
            raise InteractionRejected(f"{where}: unknown channel {raw!r}")
        data = {**channel.to_dict(guild.id), "permissions": str(ALL_PERMISSIONS)}
        resolved.setdefault("channels", {})[str(channel.id)] = data
        return str(channel.id)
    if kind == USER:
        raise InteractionRejected(f"{where}: unknown user {raw!r}")
    return _scalar(spec, raw, where)


def _is_user(fake: FakeDiscord, raw: User | int) -> bool:
    return isinstance(raw, User) or fake.find_user(raw) is not None


def _scalar(spec: dict[str, Any], raw: Any, where: str) -> Any:
    kind, name = spec["type"], spec["name"]
    converters: dict[int, Callable[[Any], Any]] = {3: str, 4: int, 5: bool, 10: float}
    value = converters.get(kind, lambda v: v)(raw)
    choices = spec.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise InteractionRejected(f"{where}: {value!r} is not a choice of {name!r}")
    if kind == 3:
        lo, hi = spec.get("min_length", 0), spec.get("max_length", 6000)
        if not lo <= len(value) <= hi:
            raise InteractionRejected(f"{where}: {name!r} length outside {lo}..{hi}")
    if kind in (4, 10):
        lo, hi = spec.get("min_value"), spec.get("max_value")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InteractionRejected(f"{where}: {name!r} outside {lo}..{hi}")
    return value


def slash_data(
    fake: FakeDiscord,
    path: Sequence[str],
    values: Mapping[str, Any],
    *,
    guild: Guild,
    channel_id: int,
    permissions: int,
    force: bool,
) -> dict[str, Any]:
    command, chain = find_command(fake, path, guild.id)
    if not force:
        _check_visible(command, permissions)
    schema = (chain[-1] if chain else command).get("options") or []
    where = "/" + " ".join(path)
    options, resolved = build_options(fake, schema, values, guild, channel_id, where)
    for node in reversed(chain):
        options = [{"name": node["name"], "type": node["type"], "options": options}]
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": 1,
        "options": options,
    }
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def find_component(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    for component in walk(message.get("components") or []):
        if component.get("custom_id") == custom_id:
            if component.get("disabled"):
                raise InteractionRejected(f"component {custom_id!r} is disabled")
            return component
    available = [c["custom_id"] for c in walk(message.get("components") or []) if "custom_id" in c]
    raise InteractionRejected(
        f"message {message['id']} has no component {custom_id!r} (has {available})"
    )


def select_data(component: dict[str, Any], values: Sequence[str]) -> dict[str, Any]:
    custom_id = component["custom_id"]
    lo, hi = component.get("min_values", 1), component.get("max_values", 1)
    if not lo <= len(values) <= hi:
        raise InteractionRejected(f"select {custom_id!r} takes {lo}..{hi} values")
    if component["type"] == 3:
        allowed = {o["value"] for o in component.get("options") or []}
        bad = [v for v in values if v not in allowed]
        if bad:
            raise InteractionRejected(f"select {custom_id!r} has no options {bad}")
    return {"custom_id": custom_id, "component_type": component["type"], "values": list(values)}


def modal_components(modal: dict[str, Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a Discord client submits for this modal, for both ActionRow and Label layouts."""
    unknown = set(values) - {c.get("custom_id") for c in walk(modal["components"])}
    if unknown:
        raise InteractionRejected(f"modal {modal['custom_id']!r} has no inputs {sorted(unknown)}")
    submitted: list[dict[str, Any]] = []
    for top in modal["components"]:
        if top["type"] == 1:
            inner = [_submitted(c, values) for c in top.get("components") or []]
            submitted.append({"type": 1, "components": inner})
        elif top["type"] == 18:
            submitted.append({"type": 18, "component": _submitted(top["component"], values)})
        elif top["type"] == 10:
            submitted.append({"type": 10, "id": top.get("id")})
    return submitted


def _submitted(component: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    custom_id = str(component.get("custom_id"))
    kind = component["type"]
    result: dict[str, Any] = {"type": kind, "custom_id": custom_id}
    if "id" in component:
        result["id"] = component["id"]
    if kind == 4:
        value = str(values.get(custom_id, component.get("value") or ""))
        lo, hi = component.get("min_length", 0), component.get("max_length", 4000)
        if component.get("required", True) and not value:
            raise InteractionRejected(f"text input {custom_id!r} is required")
        if value and not lo <= len(value) <= hi:
            raise InteractionRejected(f"text input {custom_id!r} length outside {lo}..{hi}")
        result["value"] = value
        return result
    chosen = values.get(custom_id)
    if chosen is None:
        chosen = [o["value"] for o in component.get("options") or [] if o.get("default")]
    if isinstance(chosen, str):
        chosen = [chosen]
    if component.get("required", True) or chosen:
        result.update(select_data(component, chosen))
    else:
        result["values"] = []
    result.pop("component_type", None)
    return result
