"""/info and /settings: a member's own usage, jobs and prompt defaults (ephemeral)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.info import InfoService, render_info
from bot.ui.boundary import locale_of
from bot.ui.context import requester_of
from bot.ui.settings_panel import SETTINGS_ITEMS, load_panel, panel_content, panel_view

if TYPE_CHECKING:
    from bot.app import MjBot


class Personal(commands.Cog):
    def __init__(self, bot: MjBot) -> None:
        self.bot = bot
        services = bot.services
        self.info_service = InfoService(services.gate, services.usage, services.job_repo)

    @app_commands.command(
        name="info",
        description=_(
            "Your usage today, your quota and your running jobs", key="cmd.info.description"
        ),
    )
    @app_commands.guild_only()
    async def info(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        summary = await self.info_service.summary(requester_of(interaction))
        await interaction.followup.send(
            render_info(summary, locale_of(interaction)), ephemeral=True
        )

    @app_commands.command(
        name="settings",
        description=_(
            "Your default parameters, added to every prompt you send",
            key="cmd.settings.description",
        ),
    )
    @app_commands.guild_only()
    async def settings(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        record = await load_panel(self.bot.services, interaction.guild_id, interaction.user.id)
        locale = locale_of(interaction)
        await interaction.followup.send(
            panel_content(record, locale), view=panel_view(record, locale), ephemeral=True
        )


async def setup(bot: MjBot) -> None:
    bot.add_dynamic_items(*SETTINGS_ITEMS)
    await bot.add_cog(Personal(bot))


async def teardown(bot: MjBot) -> None:
    bot.remove_dynamic_items(*SETTINGS_ITEMS)
