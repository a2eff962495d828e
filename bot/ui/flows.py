"""The interaction flows shared by commands, buttons and dialogs: ack, plan, submit, show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.i18n import t
from bot.jobs import ExistingChild, Plan
from bot.render import failure_text
from bot.tracker import TERMINAL_STATES
from bot.ui.boundary import tell
from bot.ui.context import jump_url, requester_of
from storage.jobs import JobRecord

if TYPE_CHECKING:
    from bot.runtime import Services


async def run_plan(
    services: Services,
    interaction: discord.Interaction[Any],
    plan: Plan,
    *,
    reply_to: int | None = None,
    announce: bool = False,
) -> JobRecord:
    """Submit once; post the job message (a reply to `reply_to`) or tell why it failed."""
    services.presenter.note_upload_limit(interaction.guild_id, interaction.filesize_limit)
    job = await services.jobs.submit(plan)
    locale = requester_of(interaction).locale
    if job.state in TERMINAL_STATES:
        await tell(interaction, t(locale, "job.not_started", reason=failure_text(job, locale)))
        return job
    try:
        message = await services.presenter.post_reply(job, reply_to=reply_to)
    except discord.Forbidden:
        # The job runs (it was accepted); its message will be posted once the bot may post here.
        raise UserFacingError("job.cannot_post") from None
    if announce:
        link = jump_url(job.guild_id, job.channel_id, message.id)
        await tell(interaction, t(locale, "job.started", link=link))
    return job


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
    from bot.ui.dialogs import dialog_for_button

    message_id = interaction.message.id if interaction.message else None
    parent, action = await services.jobs.button_of(job_id, index, message_id=message_id)
    if not action.needs_user_input:  # not a dialog button after all: an ordinary click
        await click_result_button(services, interaction, job_id, index)
        return
    who = requester_of(interaction)
    await services.gate.admit(who)  # refuse before the member fills in the dialog
    modal = dialog_for_button(services, parent, index, action, who.locale)
    await interaction.response.send_modal(modal)


async def finish_click(
    services: Services, interaction: discord.Interaction[Any], result: Plan | ExistingChild
) -> None:
    if isinstance(result, ExistingChild):
        messages = await services.job_repo.messages_for_job(result.job.id)
        if messages:
            link = jump_url(result.job.guild_id, result.job.channel_id, messages[0].message_id)
            raise UserFacingError("click.already_done", link=link)
        raise UserFacingError("click.already_running")
    reply_to = interaction.message.id if interaction.message else None
    await run_plan(services, interaction, result, reply_to=reply_to)
    parent_id = result.job.parent_job_id
    if parent_id is not None:
        await services.presenter.refresh(parent_id)


async def click_pick(
    services: Services, interaction: discord.Interaction[Any], job_id: int, number: int
) -> None:
    """A numbered prompt under a describe/shorten result: imagine it (0 = all of them)."""
    from bot.render import pick_prompts

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
    from bot.ui.dialogs import RemixDialog

    job = await services.job_repo.get(job_id)
    if job is None or job.state != "modal" or job.guild_id != interaction.guild_id:
        raise UserFacingError("dialog.gone")
    if job.requester_id != interaction.user.id:
        raise UserFacingError("dialog.not_yours")
    await interaction.response.send_modal(
        RemixDialog(services, job, requester_of(interaction).locale)
    )
