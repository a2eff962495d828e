"""The persistent buttons of job messages: one DynamicItem serves them all, also after a restart.

Our custom_ids are `mj1:<kind>:<job_id>[:<n>]`: `b` a result button (acknowledged at once), `z` a
result button that opens a modal first (Custom Zoom, Vary Region), `p` a describe/shorten prompt
pick (0 = all), `d` the dialog the proxy asked for after a click. `from_custom_id` only parses.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.ui.boundary import guarded
from bot.ui.flows import (
    click_dialog_result_button,
    click_pick,
    click_result_button,
    open_remix_dialog,
)

if TYPE_CHECKING:
    from bot.app import MjBot
    from bot.runtime import Services

Interaction = discord.Interaction[Any]
_HANDLERS: dict[str, Callable[[Services, Interaction, int, int], Awaitable[None]]] = {
    "b": click_result_button,
    "z": click_dialog_result_button,
    "p": click_pick,
    "d": lambda services, interaction, job_id, _n: open_remix_dialog(services, interaction, job_id),
}


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mj1:(?P<kind>[bzpd]):(?P<job>\d+)(?::(?P<n>\d+))?",
):
    def __init__(self, kind: str, job_id: int, n: int) -> None:
        custom_id = f"mj1:{kind}:{job_id}" + ("" if kind == "d" else f":{n}")
        super().__init__(discord.ui.Button(custom_id=custom_id))
        self.kind, self.job_id, self.n = kind, job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(match["kind"], int(match["job"]), int(match["n"] or 0))

    async def callback(self, interaction: Interaction) -> None:
        client: MjBot = interaction.client
        handler = _HANDLERS[self.kind]
        await guarded(
            interaction, lambda: handler(client.services, interaction, self.job_id, self.n)
        )


DYNAMIC_ITEMS = (JobButton,)
