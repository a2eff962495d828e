"""Self-tests of the fake Discord's DM channels, context menus and autocomplete (tiny bot)."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, InteractionRejected, running


class AppsBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        tree = self.tree

        @tree.command(description="Sends you a direct message")
        async def dm(interaction: discord.Interaction) -> None:
            try:
                await interaction.user.send("hello in private")
            except discord.Forbidden as exc:
                await interaction.response.send_message(f"refused {exc.code}", ephemeral=True)
                return
            await interaction.response.send_message("sent", ephemeral=True)

        @tree.command(description="Picks a fruit")
        async def fruit(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(name)

        @fruit.autocomplete("name")
        async def fruits(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = ["apple", "apricot", "banana"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        @tree.context_menu(name="Quote")
        async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"quoted: {message.content}", ephemeral=True)

        @tree.context_menu(name="Whois")
        @app_commands.default_permissions(manage_guild=True)
        async def whois(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(f"that is {member.name}", ephemeral=True)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_direct_messages_open_a_channel_and_closed_dms_refuse_with_50007(
    fake_discord: FakeDiscord,
) -> None:
    bot = AppsBot()
    alice = fake_discord.users["alice"]
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("dm")
        assert (await handle.wait_original())["content"] == "sent"
        [message] = fake_discord.dms(alice)
        assert message["content"] == "hello in private" and "guild_id" not in message
        fake_discord.close_dms(alice)
        handle = await fake_discord.slash("dm")
        assert (await handle.wait_original())["content"] == "refused 50007"
        assert len(fake_discord.dms(alice)) == 1


async def test_autocomplete_and_context_menus(fake_discord: FakeDiscord) -> None:
    bot = AppsBot()
    async with running(bot, fake_discord):
        handle = await fake_discord.autocomplete("fruit", "name", {"name": "ap"})
        response = await handle.wait_response()
        assert response["type"] == 8
        assert [c["value"] for c in response["data"]["choices"]] == ["apple", "apricot"]
        with pytest.raises(InteractionRejected, match="no autocomplete"):
            await fake_discord.autocomplete("dm", "name")

        said = await fake_discord.user_message("something worth quoting")
        handle = await fake_discord.context_menu("Quote", said)
        quoted = await handle.wait_original()
        assert quoted["content"] == "quoted: something worth quoting" and handle.ephemeral

        bob = fake_discord.users["bob"]
        with pytest.raises(InteractionRejected, match="not offered"):
            await fake_discord.context_menu("Whois", bob)
        handle = await fake_discord.context_menu("Whois", bob, permissions=MANAGE_GUILD)
        assert (await handle.wait_original())["content"] == "that is bob"
        with pytest.raises(InteractionRejected, match="no user context menu"):
            await fake_discord.context_menu("Nothing", bob)
