"""/mjadmin api set|show|test|clear: a server's own proxy and key (bot/proxy_admin.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.i18n import t
from bot.proxy_admin import ProbeAnswer, ProxyAdmin, ProxyForm, ProxyView
from bot.safety import redact
from bot.ui.boundary import guarded
from bot.ui.context import requester_of
from cogs.admin_views import send

if TYPE_CHECKING:
    from bot.app import MjBot


def _d(key: str) -> _:
    return _(t("en", f"cmd.admin.{key}"), key=f"cmd.admin.{key}")


def probe_text(locale: str, answer: ProbeAnswer) -> str:
    """The probe's sentences (as `mjbot check` prints them), then what happened."""
    if answer.saved is not None:
        outcome = t(locale, "proxies.set.saved")
    elif answer.ok:
        outcome = t(locale, "proxies.test.ok")
    else:
        outcome = t(locale, "proxies.set.not_saved")
    # A proxy's answer may echo the key: the key was registered as a secret before the probe.
    return redact("\n".join([*answer.sentences, "", outcome]))


def show_text(locale: str, view: ProxyView | None) -> str:
    if view is None:
        return t(locale, "proxies.show.none")
    key = "proxies.show.own" if view.own else "proxies.show.default"
    return t(
        locale,
        key,
        url=f"{view.base_url}{view.path_prefix}",
        prefix=view.path_prefix or "/",
        style=view.auth_style,
        backend=view.backend,
        hint=view.key_hint or "—",
    )


def add_proxy_field(embed: discord.Embed, locale: str, view: ProxyView | None) -> None:
    """/mjadmin config: the image service the server uses (never the key)."""
    if view is None:
        value = t(locale, "proxies.config.none")
    else:
        key = "proxies.config.own" if view.own else "proxies.config.default"
        value = t(
            locale,
            key,
            url=f"{view.base_url}{view.path_prefix}",
            style=view.auth_style,
            backend=view.backend,
            hint=view.key_hint or "—",
        )
    embed.add_field(name=t(locale, "proxies.config.field"), value=value[:1024], inline=False)


class ProxyDialog(discord.ui.Modal):
    """Base URL, path prefix, key, auth style, backend family; saved only if the probe works."""

    def __init__(self, admin: ProxyAdmin, defaults: ProxyForm, locale: str) -> None:
        super().__init__(title=t(locale, "proxies.dialog.title")[:45], timeout=15 * 60)
        self.admin = admin

        def field(key: str, default: str, **kwargs: Any) -> discord.ui.TextInput[ProxyDialog]:
            item: discord.ui.TextInput[ProxyDialog] = discord.ui.TextInput(
                label=t(locale, f"proxies.dialog.{key}")[:45],
                default=default or None,
                custom_id=f"api_{key}",
                **kwargs,
            )
            self.add_item(item)
            return item

        self.base_url = field("base_url", defaults.base_url, max_length=300)
        self.path_prefix = field(
            "path_prefix", defaults.path_prefix, max_length=100, required=False
        )
        self.api_key = field("api_key", "", max_length=500)
        self.auth_style = field("auth_style", defaults.auth_style, max_length=20)
        self.backend = field("backend", defaults.backend, max_length=20)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            who = requester_of(interaction)
            form = ProxyForm(
                self.base_url.value,
                self.path_prefix.value,
                self.api_key.value,
                self.auth_style.value,
                self.backend.value,
            )
            answer = await self.admin.set(who, form)
            await send(interaction, probe_text(who.locale, answer))

        await guarded(interaction, body)


class ApiCommands(app_commands.Group):
    """The `api` subgroup of /mjadmin (added to the Admin cog's group at setup)."""

    def __init__(self, bot: MjBot) -> None:
        super().__init__(name="api", description=_d("api"))
        self.bot = bot

    @property
    def admin(self) -> ProxyAdmin:
        return self.bot.services.proxy_admin

    @app_commands.command(name="set", description=_d("api_set"))
    async def api_set(self, interaction: discord.Interaction[MjBot]) -> None:
        who = requester_of(interaction)
        defaults = await self.admin.form_defaults(who)  # refusals go to the error boundary
        await interaction.response.send_modal(ProxyDialog(self.admin, defaults, who.locale))

    @app_commands.command(name="show", description=_d("api_show"))
    async def api_show(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await send(interaction, show_text(who.locale, await self.admin.show(who)))

    @app_commands.command(name="test", description=_d("api_test"))
    async def api_test(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await send(interaction, probe_text(who.locale, await self.admin.test(who)))

    @app_commands.command(name="clear", description=_d("api_clear"))
    async def api_clear(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        change = await self.admin.clear(who)
        await send(interaction, t(who.locale, change.key, **change.params))


async def setup(bot: MjBot) -> None:
    admin = bot.get_cog("Admin")
    assert isinstance(admin, commands.GroupCog), "cogs.admin loads before cogs.admin_api"
    group = admin.app_command
    assert isinstance(group, app_commands.Group)
    group.add_command(ApiCommands(bot))
