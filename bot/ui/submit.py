"""Submitting a recorded plan and posting its job message: shared by commands, clicks, dialogs."""

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
        message = await services.presenter.post_reply(
            job, reply_to=reply_to, interaction=interaction
        )
    except discord.Forbidden:
        # The job runs (it was accepted); its message will be posted once the bot may post here.
        raise UserFacingError("job.cannot_post") from None
    if announce:
        link = jump_url(job.guild_id, job.channel_id, message.id)
        await tell(interaction, t(locale, "job.started", link=link))
    return job


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
