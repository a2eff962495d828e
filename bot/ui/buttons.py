"""Persistent buttons (DynamicItems): they work on every message, also after a restart."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.ui.boundary import guarded, locale_of
from bot.ui.flows import click_dialog_result_button, click_pick, click_result_button

if TYPE_CHECKING:
    from bot.app import MjBot
    from bot.runtime import Services


def _services(interaction: discord.Interaction[Any]) -> Services:
    client: MjBot = interaction.client
    return client.services


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mj1:b:(?P<job>\d+):(?P<index>\d+)"
):
    """U1..U4, V1..V4, 🔄, Upscale, Vary, Zoom, Pan ... of a finished job."""

    def __init__(self, job_id: int, index: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mj1:b:{job_id}:{index}"))
        self.job_id, self.index = job_id, index

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResultButton:
        return cls(int(match["job"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            lambda: click_result_button(
                _services(interaction), interaction, self.job_id, self.index
            ),
        )


class DialogResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mj1:z:(?P<job>\d+):(?P<index>\d+)"
):
    """Custom Zoom and Vary (Region): they open their modal at once."""

    def __init__(self, job_id: int, index: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mj1:z:{job_id}:{index}"))
        self.job_id, self.index = job_id, index

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> DialogResultButton:
        return cls(int(match["job"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            lambda: click_dialog_result_button(
                _services(interaction), interaction, self.job_id, self.index
            ),
        )


class PickButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mj1:p:(?P<job>\d+):(?P<number>\d)"
):
    """1️⃣..5️⃣ and 🎉 under a describe or shorten result: imagine that prompt."""

    def __init__(self, job_id: int, number: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mj1:p:{job_id}:{number}"))
        self.job_id, self.number = job_id, number

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PickButton:
        return cls(int(match["job"]), int(match["number"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            lambda: click_pick(_services(interaction), interaction, self.job_id, self.number),
        )


class DialogButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mj1:d:(?P<job>\d+)"):
    """✏️ Open dialog: the proxy asked for a dialog after a deferred click."""

    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mj1:d:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> DialogButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            from bot.ui.dialogs import RemixDialog

            services = _services(interaction)
            job = await services.job_repo.get(self.job_id)
            if job is None or job.state != "modal" or job.guild_id != interaction.guild_id:
                raise UserFacingError("dialog.gone")
            if job.requester_id != interaction.user.id:
                raise UserFacingError("dialog.not_yours")
            await interaction.response.send_modal(
                RemixDialog(services, job, locale_of(interaction))
            )

        await guarded(interaction, body)


DYNAMIC_ITEMS = (ResultButton, DialogResultButton, PickButton, DialogButton)
