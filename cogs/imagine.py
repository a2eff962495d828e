"""/imagine: a prompt (and an optional reference image) to a grid of four images."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.ui.attachments import image_data_url
from bot.ui.context import requester_of
from bot.ui.submit import run_plan

if TYPE_CHECKING:
    from bot.app import MjBot


class Imagine(commands.Cog):
    def __init__(self, bot: MjBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="imagine",
        description=_("Create images from a text prompt", key="cmd.imagine.description"),
    )
    @app_commands.describe(
        prompt=_(
            "What to draw, with Midjourney parameters such as --ar 16:9", key="cmd.imagine.prompt"
        ),
        image=_("A reference image (optional)", key="cmd.imagine.image"),
    )
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction[MjBot],
        prompt: app_commands.Range[str, 1, 6000],
        image: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        who = requester_of(interaction)

        reference = await image_data_url(image, services.max_upload_bytes) if image else None
        plan = await services.jobs.plan_imagine(who, prompt, image_data_url=reference)
        await run_plan(services, interaction, plan, announce=True)


async def setup(bot: MjBot) -> None:
    await bot.add_cog(Imagine(bot))
