"""Discord modals for the dialogs Midjourney asks for: Custom Zoom, Vary Region, remix."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.i18n import t
from bot.images import REGION_PRESETS, mask_data_url
from bot.midjourney.custom_ids import ButtonAction, ButtonKind
from bot.prompts import PromptError, zoom_prompt
from bot.ui.boundary import guarded
from bot.ui.context import requester_of
from bot.ui.submit import finish_click
from storage.jobs import JobRecord

if TYPE_CHECKING:
    from bot.runtime import Services

_ZOOM_FLAG = re.compile(r"\s*--zoom\s+\S+", re.IGNORECASE)
_ASPECT = re.compile(r"--(?:ar|aspect)\s+(\d+)\s*:\s*(\d+)", re.IGNORECASE)
MASK_LONG_SIDE = 1024


def _title(text: str) -> str:
    return text[:45]


def _prefill(prompt: str) -> str:
    return _ZOOM_FLAG.sub("", prompt).strip()[:4000]


def mask_size(prompt: str) -> tuple[int, int]:
    """The mask follows the image's aspect ratio, read from the prompt's --ar (default 1:1)."""
    match = _ASPECT.search(prompt)
    if not match:
        return MASK_LONG_SIDE, MASK_LONG_SIDE
    w, h = int(match.group(1)) or 1, int(match.group(2)) or 1
    if w >= h:
        return MASK_LONG_SIDE, max(1, round(MASK_LONG_SIDE * h / w))
    return max(1, round(MASK_LONG_SIDE * w / h)), MASK_LONG_SIDE


class ZoomDialog(discord.ui.Modal):
    def __init__(self, services: Services, parent: JobRecord, index: int, locale: str) -> None:
        super().__init__(title=_title(t(locale, "dialog.zoom.title")), timeout=15 * 60)
        self.services, self.parent, self.index = services, parent, index
        self.prompt: discord.ui.TextInput[ZoomDialog] = discord.ui.TextInput(
            label=t(locale, "dialog.prompt")[:45],
            style=discord.TextStyle.paragraph,
            default=_prefill(parent.final_prompt or parent.prompt) or None,
            required=False,
            max_length=4000,
            custom_id="prompt",
        )
        self.zoom: discord.ui.TextInput[ZoomDialog] = discord.ui.TextInput(
            label=t(locale, "dialog.zoom.value")[:45],
            default="2",
            max_length=4,
            custom_id="zoom",
        )
        self.add_item(self.prompt)
        self.add_item(self.zoom)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            try:
                zoom = float(self.zoom.value.replace(",", "."))
                text = zoom_prompt(self.prompt.value or self.parent.prompt, zoom)
            except ValueError:
                raise UserFacingError("dialog.zoom.invalid") from None
            except PromptError as exc:
                raise UserFacingError(exc.key, **exc.params) from None
            await submit_dialog_click(
                self.services, interaction, self.parent, self.index, text, None
            )

        await guarded(interaction, body)


class RegionDialog(discord.ui.Modal):
    def __init__(self, services: Services, parent: JobRecord, index: int, locale: str) -> None:
        super().__init__(title=_title(t(locale, "dialog.region.title")), timeout=15 * 60)
        self.services, self.parent, self.index = services, parent, index
        self.region: discord.ui.Select[RegionDialog] = discord.ui.Select(
            custom_id="region",
            options=[
                discord.SelectOption(label=t(locale, f"dialog.region.{key}")[:100], value=key)
                for key in REGION_PRESETS
            ],
            min_values=1,
            max_values=1,
        )
        self.prompt: discord.ui.TextInput[RegionDialog] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=_prefill(parent.final_prompt or parent.prompt) or None,
            required=False,
            max_length=4000,
            custom_id="prompt",
        )
        self.add_item(
            discord.ui.Label(text=t(locale, "dialog.region.pick")[:45], component=self.region)
        )
        self.add_item(discord.ui.Label(text=t(locale, "dialog.prompt")[:45], component=self.prompt))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            preset = self.region.values[0] if self.region.values else ""
            if preset not in REGION_PRESETS:
                raise UserFacingError("dialog.region.invalid")
            width, height = mask_size(self.parent.final_prompt or self.parent.prompt)
            mask = mask_data_url(preset, width, height)
            text = self.prompt.value.strip() or None
            await submit_dialog_click(
                self.services, interaction, self.parent, self.index, text, mask
            )

        await guarded(interaction, body)


class RemixDialog(discord.ui.Modal):
    """The proxy asked for a dialog after the click (remix mode, new-api): ask for the prompt."""

    def __init__(self, services: Services, job: JobRecord, locale: str) -> None:
        super().__init__(title=_title(t(locale, "dialog.remix.title")), timeout=15 * 60)
        self.services, self.job = services, job
        self.prompt: discord.ui.TextInput[RemixDialog] = discord.ui.TextInput(
            label=t(locale, "dialog.prompt")[:45],
            style=discord.TextStyle.paragraph,
            default=(job.final_prompt or job.prompt)[:4000] or None,
            required=False,
            max_length=4000,
            custom_id="prompt",
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def body() -> None:
            await interaction.response.defer()
            who = requester_of(interaction)
            if who.user_id != self.job.requester_id:
                raise UserFacingError("dialog.not_yours")
            job = await self.services.jobs.submit_dialog(who, self.job.id, self.prompt.value, None)
            await self.services.presenter.refresh(job.id)

        await guarded(interaction, body)


async def submit_dialog_click(
    services: Services,
    interaction: discord.Interaction[Any],
    parent: JobRecord,
    index: int,
    prompt: str | None,
    mask: str | None,
) -> None:
    await interaction.response.defer()
    who = requester_of(interaction)
    result = await services.jobs.plan_click(
        who, parent.id, index, dialog_prompt=prompt or parent.prompt, dialog_mask=mask
    )
    await finish_click(services, interaction, result)


def dialog_for_button(
    services: Services, parent: JobRecord, index: int, action: ButtonAction, locale: str
) -> discord.ui.Modal:
    if action.kind == ButtonKind.VARY_REGION:
        return RegionDialog(services, parent, index, locale)
    return ZoomDialog(services, parent, index, locale)
