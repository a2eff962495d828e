"""The discord.py Bot: loads the cogs, registers persistent buttons, syncs the commands.

The commands are synced beside the gateway connection, not before it: Discord keeps the ones
registered by the last start, so the bot answers them at once, and a server that refuses the
sync (the bot was removed from one of `discord.guild_ids`) costs that server its new commands,
not every server its bot."""

from __future__ import annotations

import asyncio
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


class MjBot(commands.AutoShardedBot):
    """The bot process: thin glue between Discord and the services.

    Always discord.py's sharded client: `discord.shard_count` 0 lets it ask Discord how many
    shards the bot needs (GET /gateway/bot) and run them all; otherwise it runs
    `discord.shard_ids` (all when empty) of `discord.shard_count`."""

    def __init__(self, services: Services, *, guild_ready_timeout: float = 2.0) -> None:
        # Slash commands and components need no gateway intents beyond the guild cache; without
        # the message intents the bot is not sent every message (and every edit) in the server.
        intents = discord.Intents.none()
        intents.guilds = True
        # Job messages wait for slots of the outbox, which learns Discord's buckets from the
        # headers of every answer discord.py's session receives.
        discord_settings = services.settings.discord
        self.outbox = Outbox(requests_per_second=discord_settings.global_requests_per_second)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=guild_ready_timeout,
            # Nobody is pinged unless a message says whom it may (a job message: its requester).
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=self.outbox.trace_config(),
            shard_count=discord_settings.shard_count or None,
            # None (discord.py's default, typed as a list only): all of shard_count.
            shard_ids=list(discord_settings.shard_ids) or None,  # type: ignore[arg-type]
        )
        self.services = services
        # Automatic sharding: Discord's recommended shard count, asked while setup_hook works.
        self._recommended: asyncio.Task[tuple[int, str, Any]] | None = None
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        # Set once every configured scope (each of discord.guild_ids, or global) is synced.
        self.commands_synced = asyncio.Event()
        self._sync: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        from bot.i18n_discord import CatalogueTranslator

        if self.shard_count is None:
            self._recommended = asyncio.create_task(
                self.http.get_bot_gateway(), name="mjbot-gateway-bot"
            )
        await self.tree.set_translator(CatalogueTranslator())
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.services.start(self)

    async def on_connect(self) -> None:
        """The first READY (discord.py's 'connect', once per shard): now register the commands.

        Syncing after the connection rather than before keeps its work (the payload translated
        for every Discord locale, one request per server in discord.guild_ids) off the way to
        the gateway; on every start but the first, Discord still has the last sync's commands,
        so members can use them as soon as the bot is connected."""
        if self._sync is None:
            self._sync = asyncio.create_task(self._sync_commands(), name="mjbot-command-sync")

    @property
    def synced(self) -> bool:
        return self.commands_synced.is_set()

    async def launch_shards(self) -> None:
        """Connect every shard of this process to `discord.gateway_url`.

        Automatic sharding asks Discord for the recommended shard count only: discord.py would
        also take the gateway address from that answer, bypassing a configured reverse proxy."""
        if self.shard_count is None and not self.is_closed():
            asked = self._recommended or asyncio.create_task(self.http.get_bot_gateway())
            self.shard_count, _, _ = await asked
            log.info("Discord recommends %d shard(s); running all of them", self.shard_count)
        await super().launch_shards()

    @property
    def gateway_open(self) -> bool:
        """Every shard of this process is connected (for /healthz)."""
        shards = self.shards.values()
        return bool(shards) and all(not shard.is_closed() for shard in shards)

    async def leave_gateway(self) -> None:
        """Close every shard's connection (code 1000): no new interaction arrives after this."""
        for shard in list(self.shards.values()):
            if not shard.is_closed():
                await shard.disconnect()

    async def _sync_commands(self) -> None:
        """Register the commands in each configured server (or globally); a scope that fails is
        said once in the log and the others are still synced."""
        guild_ids = self.services.settings.discord.guild_ids
        failed = False
        scopes: list[int | None] = [*guild_ids] or [None]
        for guild_id in scopes:
            guild = None if guild_id is None else discord.Object(id=guild_id)
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                failed = True
                where = "globally" if guild_id is None else f"to guild {guild_id}"
                log.error(
                    "could not register the slash commands %s: %s %s; members there keep the "
                    "commands of the last sync until it works (is the bot still in that server, "
                    "invited with the applications.commands scope?)",
                    where,
                    exc.status,
                    exc.text or exc,
                )
                continue
            if guild_id is None:
                log.info("synced %d global commands", len(synced))
            else:
                log.info("synced %d commands to guild %s", len(synced), guild_id)
        if not failed:
            self.commands_synced.set()

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report(interaction, error)

    async def close(self) -> None:
        if self._sync is not None:  # cancelled, or its error read, if the bot stops first
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
        await self.services.stop()
        self.outbox.close()
        if self._recommended is not None:  # cancelled, or its error read, if nobody awaited it
            self._recommended.cancel()
            await asyncio.gather(self._recommended, return_exceptions=True)
        # discord.py's sharded client can only close once login set it up (its event queue).
        if getattr(self, "_AutoShardedClient__queue", None) is not None:
            await super().close()
