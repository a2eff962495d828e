"""The persistent buttons of job messages: one DynamicItem serves them all, also after a restart.

Our custom_ids are `mj1:<kind>:<job_id>[:<n>]`: `b` a result button (acknowledged at once), `z` a
result button that opens a modal first (Custom Zoom, Vary Region), `p` a describe/shorten prompt
pick (0 = all), `d` the dialog the proxy asked for after a click. `from_custom_id` only parses;
an id we could not have made (a forged 90-digit job id, say) is answered with a polite refusal
before anything is looked up.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.render import parse_job_button_id
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
    def __init__(self, kind: str, job_id: int, n: int, *, custom_id: str | None = None) -> None:
        if custom_id is None:
            custom_id = f"mj1:{kind}:{job_id}" + ("" if kind == "d" else f":{n}")
        super().__init__(discord.ui.Button(custom_id=custom_id))
        self.kind, self.job_id, self.n = kind, job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        parsed = parse_job_button_id(match.string)
        if parsed is None:  # never int() a forged id into a lookup: refuse it in the callback
            return cls("", 0, 0, custom_id=match.string)
        return cls(*parsed)

    async def callback(self, interaction: Interaction) -> None:
        client: MjBot = interaction.client
        if self.kind not in _HANDLERS:
            await guarded(interaction, _refuse_forged)
            return
        handler = _HANDLERS[self.kind]
        await guarded(
            interaction, lambda: handler(client.services, interaction, self.job_id, self.n)
        )


async def _refuse_forged() -> None:
    raise UserFacingError("click.unknown_job")


DYNAMIC_ITEMS = (JobButton,)
