"""/blend, /describe and /shorten: images or a prompt in, a job message out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.ui.attachments import image_data_url
from bot.ui.context import requester_of
from bot.ui.submit import run_plan

if TYPE_CHECKING:
    from bot.app import MjBot


class Tools(commands.Cog):
    def __init__(self, bot: MjBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="blend",
        description=_("Blend 2 to 5 images into new ones", key="cmd.blend.description"),
    )
    @app_commands.describe(
        image1=_("The first image", key="cmd.blend.image1"),
        image2=_("The second image", key="cmd.blend.image2"),
        image3=_("A third image (optional)", key="cmd.blend.image3"),
        image4=_("A fourth image (optional)", key="cmd.blend.image4"),
        image5=_("A fifth image (optional)", key="cmd.blend.image5"),
        dimensions=_(
            "The shape of the result (square unless you choose)", key="cmd.blend.dimensions"
        ),
    )
    @app_commands.choices(
        dimensions=[
            Choice(name=_("Portrait (2:3)", key="cmd.blend.portrait"), value="portrait"),
            Choice(name=_("Square (1:1)", key="cmd.blend.square"), value="square"),
            Choice(name=_("Landscape (3:2)", key="cmd.blend.landscape"), value="landscape"),
        ]
    )
    @app_commands.guild_only()
    async def blend(
        self,
        interaction: discord.Interaction[MjBot],
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        dimensions: str = "square",
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        given = [a for a in (image1, image2, image3, image4, image5) if a is not None]
        images = [await image_data_url(a, services.max_upload_bytes) for a in given]
        plan = await services.jobs.plan_blend(requester_of(interaction), images, dimensions)
        await run_plan(services, interaction, plan, announce=True)

    @app_commands.command(
        name="describe",
        description=_("Get four prompts that describe an image", key="cmd.describe.description"),
    )
    @app_commands.describe(image=_("The image to describe", key="cmd.describe.image"))
    @app_commands.guild_only()
    async def describe(
        self, interaction: discord.Interaction[MjBot], image: discord.Attachment
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        source = await image_data_url(image, services.max_upload_bytes)
        plan = await services.jobs.plan_describe(requester_of(interaction), source)
        await run_plan(services, interaction, plan, announce=True)

    @app_commands.command(
        name="shorten",
        description=_(
            "Find the important words of a prompt and shorter versions of it",
            key="cmd.shorten.description",
        ),
    )
    @app_commands.describe(prompt=_("The prompt to analyse", key="cmd.shorten.prompt"))
    @app_commands.guild_only()
    async def shorten(
        self,
        interaction: discord.Interaction[MjBot],
        prompt: app_commands.Range[str, 1, 6000],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        plan = await services.jobs.plan_shorten(requester_of(interaction), prompt)
        await run_plan(services, interaction, plan, announce=True)


async def setup(bot: MjBot) -> None:
    await bot.add_cog(Tools(bot))
