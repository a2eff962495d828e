"""The discord.py Bot: loads the cogs, registers persistent buttons, syncs the commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.boundary import report
from bot.ui.outbox import Outbox

if TYPE_CHECKING:
    from bot.runtime import Services

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.buttons",
    "cogs.tools",
    "cogs.personal",
    "cogs.members",
    "cogs.admin",
    "cogs.admin_api",  # adds `api` to the Admin cog's /mjadmin group: after cogs.admin
)


class MjBot(commands.Bot):
    """The bot process: thin glue between Discord and the services."""

    def __init__(self, services: Services, *, guild_ready_timeout: float = 2.0) -> None:
        # Slash commands and components need no gateway intents beyond the guild cache; without
        # the message intents the bot is not sent every message (and every edit) in the server.
        intents = discord.Intents.none()
        intents.guilds = True
        # Job messages wait for slots of the outbox, which learns Discord's buckets from the
        # headers of every answer discord.py's session receives.
        self.outbox = Outbox(
            requests_per_second=services.settings.discord.global_requests_per_second
        )
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=guild_ready_timeout,
            # Nobody is pinged unless a message says whom it may (a job message: its requester).
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=self.outbox.trace_config(),
        )
        self.services = services
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self.synced = False

    async def setup_hook(self) -> None:
        from bot.i18n_discord import CatalogueTranslator

        await self.tree.set_translator(CatalogueTranslator())
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self._sync_commands()
        await self.services.start(self)

    async def _sync_commands(self) -> None:
        guild_ids = self.services.settings.discord.guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
        self.synced = True

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report(interaction, error)

    async def close(self) -> None:
        await self.services.stop()
        self.outbox.close()
        await super().close()
