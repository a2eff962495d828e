"""/show and /history for members; the moderators' context menus "Job info" and "Usage"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.i18n import t
from bot.member_texts import choice_label, render_job_info, render_usage
from bot.members import MAX_PAGE
from bot.ui.context import requester_of
from bot.ui.members import MEMBER_ITEMS, send_history, show_job

if TYPE_CHECKING:
    from bot.app import MjBot


def _d(key: str) -> _:
    """A command or option description: English from the catalogue, translated by key."""
    return _(t("en", f"members.cmd.{key}"), key=f"members.cmd.{key}")


_NONE = discord.AllowedMentions.none()


class Members(commands.Cog):
    def __init__(self, bot: MjBot) -> None:
        self.bot = bot
        self.menus = (
            app_commands.ContextMenu(name="Job info", callback=self.job_info),
            app_commands.ContextMenu(name="Usage", callback=self.usage),
        )

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @app_commands.command(name="show", description=_d("show"))
    @app_commands.describe(job=_d("show_job"))
    @app_commands.guild_only()
    async def show(
        self, interaction: discord.Interaction[MjBot], job: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await show_job(self.bot.services, interaction, job)

    @show.autocomplete("job")
    async def show_choices(
        self, interaction: discord.Interaction[MjBot], current: str
    ) -> list[app_commands.Choice[str]]:
        who = requester_of(interaction)
        jobs = await self.bot.services.members.choices(who, current)
        return [
            app_commands.Choice(name=choice_label(job, who.locale), value=str(job.id))
            for job in jobs
        ]

    @app_commands.command(name="history", description=_d("history"))
    @app_commands.describe(page=_d("history_page"))
    @app_commands.guild_only()
    async def history(
        self,
        interaction: discord.Interaction[MjBot],
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_history(self.bot.services, interaction, page)

    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def job_info(
        self, interaction: discord.Interaction[MjBot], message: discord.Message
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        info = await self.bot.services.members.job_info(who, message.id)
        text = render_job_info(info, who.locale)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=_NONE)

    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def usage(self, interaction: discord.Interaction[MjBot], member: discord.Member) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        report = await self.bot.services.members.usage_of(who, member.id)
        text = render_usage(report, who.locale)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=_NONE)


async def setup(bot: MjBot) -> None:
    bot.add_dynamic_items(*MEMBER_ITEMS)
    await bot.add_cog(Members(bot))


async def teardown(bot: MjBot) -> None:
    bot.remove_dynamic_items(*MEMBER_ITEMS)
