"""The interaction flows of job buttons: result clicks, dialog buttons, prompt picks, remix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.render import pick_prompts, shown_prompt
from bot.ui.context import requester_of
from bot.ui.dialogs import RemixDialog, dialog_for_button
from bot.ui.submit import finish_click, run_plan

if TYPE_CHECKING:
    from bot.runtime import Services

__all__ = [
    "click_dialog_result_button",
    "click_pick",
    "click_result_button",
    "finish_click",
    "open_remix_dialog",
    "run_plan",
]


async def click_result_button(
    services: Services, interaction: discord.Interaction[Any], job_id: int, index: int
) -> None:
    """A click on a result button (U1, V2, 🔄, Upscale ...): acknowledged before any lookup."""
    await interaction.response.defer()
    message_id = interaction.message.id if interaction.message else None
    who = requester_of(interaction)
    result = await services.jobs.plan_click(who, job_id, index, message_id=message_id)
    await finish_click(services, interaction, result)


async def click_dialog_result_button(
    services: Services, interaction: discord.Interaction[Any], job_id: int, index: int
) -> None:
    """Custom Zoom, Vary (Region): the modal must be the first answer, so look up first."""
    message_id = interaction.message.id if interaction.message else None
    parent, action = await services.jobs.button_of(job_id, index, message_id=message_id)
    if not action.needs_user_input:  # not a dialog button after all: an ordinary click
        await click_result_button(services, interaction, job_id, index)
        return
    who = requester_of(interaction)
    await services.gate.admit(who)  # refuse before the member fills in the dialog
    await services.gate.check_words(who, shown_prompt(parent))  # banned since the image was made
    modal = dialog_for_button(services, parent, index, action, who.locale)
    await interaction.response.send_modal(modal)


async def click_pick(
    services: Services, interaction: discord.Interaction[Any], job_id: int, number: int
) -> None:
    """A numbered prompt under a describe/shorten result: imagine it (0 = all of them)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    job = await services.job_repo.get(job_id)
    who = requester_of(interaction)
    if job is None or job.guild_id != who.guild_id:
        raise UserFacingError("click.unknown_job")
    prompts = pick_prompts(job)
    chosen = prompts if number == 0 else prompts[number - 1 : number]
    if not chosen:
        raise UserFacingError("click.unknown_button")
    reply_to = interaction.message.id if interaction.message else None
    for prompt in chosen:
        plan = await services.jobs.plan_imagine(who, prompt)
        await run_plan(services, interaction, plan, reply_to=reply_to, announce=True)


async def open_remix_dialog(
    services: Services, interaction: discord.Interaction[Any], job_id: int
) -> None:
    """✏️ Open dialog: the proxy asked for input after a deferred click; only its owner answers."""
    job = await services.job_repo.get(job_id)
    if job is None or job.state != "modal" or job.guild_id != interaction.guild_id:
        raise UserFacingError("dialog.gone")
    if job.requester_id != interaction.user.id:
        raise UserFacingError("dialog.not_yours")
    await interaction.response.send_modal(
        RemixDialog(services, job, requester_of(interaction).locale)
    )
