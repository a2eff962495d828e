"""The /settings panel: selects and buttons that change a member's prompt defaults in a guild.

Its components are DynamicItems (`mj1:s:<what>`): the panel holds no state of its own, so it
keeps working for as long as Discord shows the ephemeral message, across restarts too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, get_args

import discord

from bot.errors import UserFacingError
from bot.i18n import t
from bot.personal_prompts import defaults_of, format_option_sets
from bot.ui.boundary import guarded, locale_of
from bot.ui.context import requester_of
from storage.users import UserSettingsRecord, UserSettingsRepository

if TYPE_CHECKING:
    from bot.app import MjBot
    from bot.members import MemberService
    from bot.requester import Requester
    from bot.runtime import Services

Field = Literal["version", "aspect", "stylize", "speed"]
FIELDS: tuple[Field, ...] = get_args(Field)
CHOICES: dict[Field, tuple[str, ...]] = {
    "version": ("7", "6.1", "6", "niji 6", "5.2"),
    "aspect": ("1:1", "2:3", "3:2", "4:5", "5:4", "16:9", "9:16", "21:9"),
    "stylize": ("50", "100", "250", "500", "750", "1000"),
    "speed": ("fast", "relax", "turbo"),
}
NOT_SET = "-"
PREFIX = "mj1:s"


def _services(interaction: discord.Interaction[Any]) -> Services:
    client: MjBot = interaction.client
    return client.services


def current_value(record: UserSettingsRecord, field: Field) -> str | None:
    value = getattr(record, field)
    return None if value is None else str(value)


def _value_label(field: Field, value: str, locale: str) -> str:
    if field == "speed":
        return t(locale, f"settings.speed_name.{value}")
    return value


def panel_content(record: UserSettingsRecord, locale: str, notice: str | None = None) -> str:
    parameters = " ".join(defaults_of(record).parameters())
    lines = [t(locale, "settings.title"), t(locale, "settings.explain")]
    if parameters:
        lines.append(t(locale, "settings.current", parameters=parameters))
    else:
        lines.append(t(locale, "settings.current_none"))
    if record.suffix:
        lines.append(t(locale, "members.settings.suffix", suffix=record.suffix.replace("`", "'")))
    if record.option_sets:
        names = " ".join(f"`{name}`" for name, _ in record.option_sets)
        lines.append(t(locale, "members.settings.sets", sets=names))
    if notice:
        lines.append(notice)
    return "\n".join(lines)


def panel_view(record: UserSettingsRecord, locale: str) -> discord.ui.View:
    """The panel's components; clicks are dispatched by the DynamicItems below."""
    view = discord.ui.View(timeout=None)
    for row, field in enumerate(FIELDS):
        name = t(locale, f"settings.{field}")
        current = current_value(record, field)
        options = [
            discord.SelectOption(
                label=t(locale, "settings.not_set", field=name),
                value=NOT_SET,
                default=current is None,
            )
        ]
        options += [
            discord.SelectOption(
                label=t(
                    locale, "settings.option", field=name, value=_value_label(field, v, locale)
                ),
                value=v,
                default=v == current,
            )
            for v in CHOICES[field]
        ]
        view.add_item(
            discord.ui.Select(
                custom_id=f"{PREFIX}:{field}", placeholder=name, options=options, row=row
            )
        )
    raw = bool(record.style_raw)
    view.add_item(
        discord.ui.Button(
            custom_id=f"{PREFIX}:raw",
            label=t(locale, "settings.style_raw_on" if raw else "settings.style_raw_off"),
            style=discord.ButtonStyle.success if raw else discord.ButtonStyle.secondary,
            row=4,
        )
    )
    for action, key in (("suffix", "suffix_button"), ("sets", "sets_button")):
        view.add_item(
            discord.ui.Button(
                custom_id=f"{PREFIX}:{action}",
                label=t(locale, f"members.settings.{key}"),
                style=discord.ButtonStyle.secondary,
                row=4,
            )
        )
    view.add_item(
        discord.ui.Button(
            custom_id=f"{PREFIX}:reset",
            label=t(locale, "settings.reset"),
            style=discord.ButtonStyle.danger,
            row=4,
        )
    )
    view.stop()  # a stopped view is not stored: the DynamicItems own the dispatch
    return view


async def load_panel(services: Services, guild_id: int | None, user_id: int) -> UserSettingsRecord:
    if guild_id is None:
        raise UserFacingError("access.guild_only")
    return await services.users.get(guild_id, user_id)


async def _show(
    interaction: discord.Interaction[Any], record: UserSettingsRecord, notice_key: str
) -> None:
    locale = locale_of(interaction)
    await interaction.response.edit_message(
        content=panel_content(record, locale, t(locale, notice_key)),
        view=panel_view(record, locale),
    )


async def save_choice(
    users: UserSettingsRepository, guild_id: int, user_id: int, field: Field, value: str
) -> UserSettingsRecord:
    """Store one select's choice (NOT_SET clears it); anything not offered is refused."""
    if value != NOT_SET and value not in CHOICES[field]:
        raise UserFacingError("settings.invalid")
    chosen = None if value == NOT_SET else value
    if field == "version":
        return await users.set(guild_id, user_id, version=chosen)
    if field == "aspect":
        return await users.set(guild_id, user_id, aspect=chosen)
    if field == "stylize":
        return await users.set(guild_id, user_id, stylize=None if chosen is None else int(chosen))
    return await users.set(guild_id, user_id, speed=chosen)


def _guild(interaction: discord.Interaction[Any]) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("access.guild_only")
    return interaction.guild_id


class SettingSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"mj1:s:(?P<field>version|aspect|stylize|speed)",
):
    """One select of the panel: choose a value, or "not set" to clear it."""

    def __init__(self, field: Field) -> None:
        super().__init__(discord.ui.Select(custom_id=f"{PREFIX}:{field}"))
        self.field: Field = field

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SettingSelect:
        field = match["field"]
        assert field in FIELDS  # the template allows nothing else
        return cls(field)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._choose(interaction))

    async def _choose(self, interaction: discord.Interaction[Any]) -> None:
        values = self.item.values
        value = values[0] if values else NOT_SET
        record = await save_choice(
            _services(interaction).users,
            _guild(interaction),
            interaction.user.id,
            self.field,
            value,
        )
        await _show(interaction, record, "settings.saved")


class SettingButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mj1:s:(?P<action>raw|reset|suffix|sets)",
):
    """`raw` toggles `--style raw`; `reset` forgets every default of the member in this guild;
    `suffix` and `sets` open a dialog for the prompt suffix and the option sets."""

    def __init__(self, action: str) -> None:
        super().__init__(discord.ui.Button(custom_id=f"{PREFIX}:{action}"))
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SettingButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._press(interaction))

    async def _press(self, interaction: discord.Interaction[Any]) -> None:
        users = _services(interaction).users
        guild_id = _guild(interaction)
        if self.action in ("suffix", "sets"):
            record = await users.get(guild_id, interaction.user.id)
            locale = locale_of(interaction)
            form = SuffixForm if self.action == "suffix" else SetsForm
            await interaction.response.send_modal(form(record, locale))
            return
        if self.action == "reset":
            await users.reset(guild_id, interaction.user.id)
            await _show(
                interaction,
                UserSettingsRecord(guild_id, interaction.user.id),
                "settings.reset_done",
            )
            return
        record = await users.get(guild_id, interaction.user.id)
        record = await users.set(
            guild_id, interaction.user.id, style_raw=not bool(record.style_raw)
        )
        await _show(interaction, record, "settings.saved")


# How a form's text is saved: the member service's save_suffix or save_option_sets.
FormSaver = Callable[["MemberService", "Requester", str], Awaitable[UserSettingsRecord]]


class _PromptForm(discord.ui.Modal):
    def __init__(
        self, title: str, label: str, value: str, *, paragraph: bool, saver: FormSaver
    ) -> None:
        super().__init__(title=title[:45], timeout=15 * 60)
        self._saver = saver
        self.text: discord.ui.TextInput[_PromptForm] = discord.ui.TextInput(
            label=label[:45],
            style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
            default=value[:4000] or None,
            required=False,
            max_length=4000,
            custom_id="text",
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            members = _services(interaction).members
            record = await self._saver(members, requester_of(interaction), self.text.value)
            await _show(interaction, record, "members.settings.saved")

        await guarded(interaction, body)


class SuffixForm(_PromptForm):
    def __init__(self, record: UserSettingsRecord, locale: str) -> None:
        super().__init__(
            t(locale, "members.settings.suffix_title"),
            t(locale, "members.settings.suffix_label"),
            record.suffix or "",
            paragraph=False,
            saver=lambda members, who, text: members.save_suffix(who, text),
        )


class SetsForm(_PromptForm):
    def __init__(self, record: UserSettingsRecord, locale: str) -> None:
        super().__init__(
            t(locale, "members.settings.sets_title"),
            t(locale, "members.settings.sets_label"),
            format_option_sets(record.option_sets),
            paragraph=True,
            saver=lambda members, who, text: members.save_option_sets(who, text),
        )


SETTINGS_ITEMS = (SettingSelect, SettingButton)
