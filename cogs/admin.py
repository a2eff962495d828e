"""/mjadmin: the moderators' commands (hidden from members, and checked again by the service)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.access import WEIGHT_ACTIONS
from bot.i18n import t
from bot.moderation import ModerationService
from bot.ui.context import requester_of
from cogs.admin_api import add_proxy_field
from cogs.admin_views import (
    channels_text,
    config_embed,
    confirm,
    jobs_embed,
    roles_text,
    send,
    stats_message,
    words_text,
)

if TYPE_CHECKING:
    from bot.app import MjBot

Units = app_commands.Range[int, 0, 1_000_000]
Jobs = app_commands.Range[int, 0, 1000]


def _d(key: str) -> _:
    """A command or option description: English from the catalogue, translated by key."""
    return _(t("en", f"cmd.admin.{key}"), key=f"cmd.admin.{key}")


ACTION_CHOICES = [app_commands.Choice(name=_d(f"action.{a}"), value=a) for a in WEIGHT_ACTIONS]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(
    commands.GroupCog,
    group_name="mjadmin",
    group_description=_d("description"),
):
    channel = app_commands.Group(name="channel", description=_d("channel"))
    role = app_commands.Group(name="role", description=_d("role"))
    quota = app_commands.Group(name="quota", description=_d("quota"))
    words = app_commands.Group(name="words", description=_d("words"))
    jobs = app_commands.Group(name="jobs", description=_d("jobs"))

    def __init__(self, bot: MjBot) -> None:
        self.bot = bot

    @property
    def service(self) -> ModerationService:
        return self.bot.services.moderation

    # ---- channels and roles ----------------------------------------------------------------
    @channel.command(name="add", description=_d("channel_add"))
    @app_commands.describe(channel=_d("channel_option"))
    async def channel_add(
        self, interaction: discord.Interaction[MjBot], channel: discord.TextChannel
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.add_channel(who, channel.id))

    @channel.command(name="remove", description=_d("channel_remove"))
    @app_commands.describe(channel=_d("channel_option"))
    async def channel_remove(
        self, interaction: discord.Interaction[MjBot], channel: discord.TextChannel
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.remove_channel(who, channel.id))

    @channel.command(name="list", description=_d("channel_list"))
    async def channel_list(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await send(interaction, channels_text(who.locale, await self.service.config(who)))

    @role.command(name="add", description=_d("role_add"))
    @app_commands.describe(role=_d("role_option"))
    async def role_add(self, interaction: discord.Interaction[MjBot], role: discord.Role) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.add_role(who, role.id))

    @role.command(name="remove", description=_d("role_remove"))
    @app_commands.describe(role=_d("role_option"))
    async def role_remove(
        self, interaction: discord.Interaction[MjBot], role: discord.Role
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.remove_role(who, role.id))

    @role.command(name="list", description=_d("role_list"))
    async def role_list(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await send(interaction, roles_text(who.locale, await self.service.config(who)))

    # ---- members ---------------------------------------------------------------------------
    @app_commands.command(name="ban", description=_d("ban"))
    @app_commands.describe(user=_d("user_option"), reason=_d("reason_option"))
    async def ban(
        self,
        interaction: discord.Interaction[MjBot],
        user: discord.User,
        reason: app_commands.Range[str, 0, 300] = "",
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.ban(who, user.id, reason))

    @app_commands.command(name="unban", description=_d("unban"))
    @app_commands.describe(user=_d("user_option"))
    async def unban(self, interaction: discord.Interaction[MjBot], user: discord.User) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.unban(who, user.id))

    # ---- quotas ----------------------------------------------------------------------------
    @quota.command(name="set", description=_d("quota_set"))
    @app_commands.describe(
        units=_d("quota_units"),
        member=_d("quota_member"),
    )
    async def quota_set(
        self,
        interaction: discord.Interaction[MjBot],
        units: Units,
        member: discord.User | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        if member is None:
            change = await self.service.set_daily_quota(who, units)
        else:
            change = await self.service.set_user_quota(who, member.id, units)
        await confirm(interaction, who.locale, change)

    @quota.command(name="reset", description=_d("quota_reset"))
    @app_commands.describe(member=_d("user_option"))
    async def quota_reset(
        self, interaction: discord.Interaction[MjBot], member: discord.User
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.reset_user_quota(who, member.id))

    @quota.command(name="cap", description=_d("quota_cap"))
    @app_commands.describe(units=_d("quota_units"))
    async def quota_cap(self, interaction: discord.Interaction[MjBot], units: Units) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.set_guild_cap(who, units))

    @quota.command(name="weight", description=_d("quota_weight"))
    @app_commands.describe(action=_d("quota_action"), units=_d("quota_weight_units"))
    @app_commands.choices(action=ACTION_CHOICES)
    async def quota_weight(
        self,
        interaction: discord.Interaction[MjBot],
        action: app_commands.Choice[str],
        units: app_commands.Range[float, 0.0, 1000.0],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(
            interaction, who.locale, await self.service.set_weight(who, action.value, units)
        )

    @quota.command(name="jobs", description=_d("quota_jobs"))
    @app_commands.describe(
        per_user=_d("quota_per_user"),
        per_guild=_d("quota_per_guild"),
    )
    async def quota_jobs(
        self,
        interaction: discord.Interaction[MjBot],
        per_user: Jobs | None = None,
        per_guild: Jobs | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        change = await self.service.set_in_flight(who, per_user, per_guild)
        await confirm(interaction, who.locale, change)

    # ---- banned words ----------------------------------------------------------------------
    @words.command(name="add", description=_d("words_add"))
    @app_commands.describe(word=_d("word_option"))
    async def words_add(
        self, interaction: discord.Interaction[MjBot], word: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.add_word(who, word))

    @words.command(name="remove", description=_d("words_remove"))
    @app_commands.describe(word=_d("word_option"))
    async def words_remove(
        self, interaction: discord.Interaction[MjBot], word: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.remove_word(who, word))

    @words.command(name="list", description=_d("words_list"))
    async def words_list(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await send(interaction, words_text(who.locale, await self.service.banned_words(who)))

    # ---- kill switch and audit log ---------------------------------------------------------
    @app_commands.command(name="pause", description=_d("pause"))
    async def pause(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.pause(who))

    @app_commands.command(name="resume", description=_d("resume"))
    async def resume(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.resume(who))

    @app_commands.command(name="auditlog", description=_d("auditlog"))
    @app_commands.describe(channel=_d("auditlog_channel"))
    async def auditlog(
        self, interaction: discord.Interaction[MjBot], channel: discord.TextChannel | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        change = await self.service.set_audit_channel(
            who, channel.id if channel else None, channel.guild.id if channel else None
        )
        await confirm(interaction, who.locale, change)

    # ---- reading ---------------------------------------------------------------------------
    @app_commands.command(name="stats", description=_d("stats"))
    @app_commands.describe(days=_d("stats_days"))
    async def stats(
        self, interaction: discord.Interaction[MjBot], days: app_commands.Range[int, 1, 90] = 7
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        embed, chart = stats_message(who.locale, await self.service.stats(who, days))
        await interaction.followup.send(embed=embed, file=chart, ephemeral=True)

    @jobs.command(name="list", description=_d("jobs_list"))
    async def jobs_list(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        embed = jobs_embed(who.locale, await self.service.jobs(who))
        await interaction.followup.send(embed=embed, ephemeral=True)

    @jobs.command(name="cancel", description=_d("jobs_cancel"))
    @app_commands.describe(job=_d("jobs_id"))
    async def jobs_cancel(
        self, interaction: discord.Interaction[MjBot], job: app_commands.Range[int, 1, 2**53]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        await confirm(interaction, who.locale, await self.service.cancel_job(who, job))

    @app_commands.command(name="config", description=_d("config"))
    async def config(self, interaction: discord.Interaction[MjBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_of(interaction)
        name = interaction.guild.name if interaction.guild else str(who.guild_id)
        embed = config_embed(who.locale, name, await self.service.config(who))
        add_proxy_field(embed, who.locale, await self.bot.services.proxy_admin.show(who))
        await interaction.followup.send(embed=embed, ephemeral=True)


async def setup(bot: MjBot) -> None:
    await bot.add_cog(Admin(bot))
