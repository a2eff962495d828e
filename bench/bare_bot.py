"""A bare discord.py bot: the floor mjbot is compared with (start-up, idle memory, click acks).

It logs in, connects with the `guilds` intent (as mjbot does) and answers a click on any button
whose custom_id starts with ``bare:`` with a deferred update (type 6), as mjbot answers a result
button. No database, no cogs, no HTTP client of its own.

    python -m bench.bare_bot API_BASE_URL GATEWAY_URL   (token in MJBOT_DISCORD__TOKEN)
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl


class Deferring(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"bare:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=str(n), custom_id=f"bare:{n}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Deferring:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()


class BareBot(discord.Client):
    async def setup_hook(self) -> None:
        self.add_dynamic_items(Deferring)


async def main(api: str, gateway: str) -> None:
    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    intents = discord.Intents.none()
    intents.guilds = True
    client = BareBot(intents=intents, guild_ready_timeout=2.0)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await client.login(os.environ["MJBOT_DISCORD__TOKEN"])
    connection = asyncio.create_task(client.connect())
    await stop.wait()
    await client.close()
    connection.cancel()
    await asyncio.gather(connection, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
