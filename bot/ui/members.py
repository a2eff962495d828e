"""Members' tools in Discord: /show, /history pages, ✉️ Send to DM and 🗑️ on job messages.

Buttons are DynamicItems with versioned custom_ids: `mj1:m:<job_id>` (DM), `mj1:x:<job_id>`
(delete), `mj1:h:<page>` (history page). An id out of range is refused, never looked up.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.i18n import t
from bot.member_texts import render_history
from bot.members import MAX_PAGE, HistoryPage
from bot.render import pick_kind, shown_prompt
from bot.safety import shown
from bot.ui.boundary import guarded, tell
from bot.ui.context import jump_url, requester_of
from bot.ui.job_copies import fetch_job_image
from bot.ui.presenter import DEFAULT_UPLOAD_LIMIT, message_kwargs

if TYPE_CHECKING:
    from bot.app import MjBot
    from bot.runtime import Services

Interaction = discord.Interaction[Any]
MAX_JOB_ID = 2**63 - 1
_NONE = discord.AllowedMentions.none()


def _services(interaction: Interaction) -> Services:
    client: MjBot = interaction.client
    return client.services


# ---- /show -----------------------------------------------------------------------------------
async def show_job(services: Services, interaction: Interaction, ref: str) -> None:
    """Post a finished job again in this channel, with its image and working buttons."""
    who = requester_of(interaction)
    located = await services.members.job_to_show(who, ref)
    job = located.job
    image, _ = await fetch_job_image(
        services, interaction.client, located, interaction.filesize_limit
    )
    kwargs = message_kwargs(await services.presenter.render(job), job)
    if kwargs["view"] is None:
        del kwargs["view"]
    notes: list[str] = []
    if image is not None:
        kwargs["file"] = image.file(job.id)
        if image.source == "proxy":
            notes.append(t(who.locale, "members.show.from_proxy"))
    elif pick_kind(job) is None:
        notice = t(job.locale or who.locale, "members.show.no_image")
        kwargs["content"] = f"{kwargs['content']}\n{notice}"[:2000]
        notes.append(t(who.locale, "members.show.no_image"))
    try:
        message = await services.presenter.post_copy(
            job,
            kwargs,
            channel_id=who.channel_id,
            guild_id=who.guild_id,
            interaction=interaction,
            locale=who.locale,
        )
    except discord.Forbidden:
        raise UserFacingError("job.cannot_post") from None
    link = jump_url(who.guild_id, who.channel_id, message.id)
    await tell(interaction, "\n".join([t(who.locale, "members.show.done", link=link), *notes]))


# ---- /history --------------------------------------------------------------------------------
def page_button_id(page: int) -> str:
    return f"mj1:h:{page}"


def history_view(page: HistoryPage, locale: str) -> discord.ui.View | None:
    if page.pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            custom_id=page_button_id(page.page - 1),
            label=t(locale, "members.button.previous"),
            emoji="◀️",
            disabled=page.page <= 1,
        )
    )
    view.add_item(
        discord.ui.Button(
            custom_id=page_button_id(page.page + 1),
            label=t(locale, "members.button.next"),
            emoji="▶️",
            disabled=page.page >= page.pages,
        )
    )
    view.stop()  # a stopped view is not stored: the DynamicItem owns the dispatch
    return view


async def send_history(services: Services, interaction: Interaction, page: int) -> None:
    who = requester_of(interaction)
    found = await services.members.history(who, page)
    view = history_view(found, who.locale)
    text = render_history(found, who.locale)
    if view is None:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=_NONE)
    else:
        await interaction.followup.send(text, view=view, ephemeral=True, allowed_mentions=_NONE)


async def turn_history_page(services: Services, interaction: Interaction, page: int) -> None:
    who = requester_of(interaction)
    found = await services.members.history(who, page)
    await interaction.response.edit_message(
        content=render_history(found, who.locale),
        view=history_view(found, who.locale),
        allowed_mentions=_NONE,
    )


# ---- ✉️ and 🗑️ -------------------------------------------------------------------------------
async def send_to_dm(services: Services, interaction: Interaction, job_id: int) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    who = requester_of(interaction)
    located = await services.members.job_for_dm(who, job_id)
    job = located.job
    limit = min(interaction.filesize_limit or DEFAULT_UPLOAD_LIMIT, DEFAULT_UPLOAD_LIMIT)
    image, _ = await fetch_job_image(services, interaction.client, located, limit)
    where = interaction.message
    link = jump_url(who.guild_id, who.channel_id, where.id) if where else "-"
    if pick_kind(job) is not None:
        content = (await services.presenter.render(job)).content + f"\n{link}"
    else:
        prompt = shown(shown_prompt(job)[:1500])  # literal: no live masked link in a DM
        content = t(who.locale, "members.dm.content", prompt=prompt, link=link)
        if image is None:
            content += "\n" + t(who.locale, "members.dm.no_image")
    try:
        dm = await interaction.user.create_dm()
        if image is None:
            await dm.send(content[:2000], allowed_mentions=_NONE)
        else:
            await dm.send(content[:2000], file=image.file(job.id), allowed_mentions=_NONE)
    except discord.Forbidden as exc:
        if exc.code == 50007:  # "Cannot send messages to this user": DMs closed
            raise UserFacingError("members.dm.closed") from None
        raise
    await tell(interaction, t(who.locale, "members.dm.sent"))


async def delete_job_message(services: Services, interaction: Interaction, job_id: int) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    who = requester_of(interaction)
    message = interaction.message
    if message is None:
        raise UserFacingError("click.unknown_job")
    await services.members.job_for_delete(who, job_id, message.id)
    with contextlib.suppress(discord.NotFound):  # already gone: forgetting it is all that is left
        await message.delete()
    await services.members.forget_message(message.id)
    await tell(interaction, t(who.locale, "members.delete.done"))


class MemberButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mj1:(?P<kind>[mxh]):(?P<n>\d{1,20})",
):
    """✉️ (`m`), 🗑️ (`x`) and the history pages (`h`); `n` is 0 when out of range."""

    def __init__(self, kind: str, n: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mj1:{kind}:{n}"))
        self.kind, self.n = kind, n

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MemberButton:
        return cls(match["kind"], parse_number(match["kind"], match["n"]))

    async def callback(self, interaction: Interaction) -> None:
        await guarded(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: Interaction) -> None:
        if self.n == 0:
            raise UserFacingError("click.unknown_button")
        services = _services(interaction)
        if self.kind == "m":
            await send_to_dm(services, interaction, self.n)
        elif self.kind == "x":
            await delete_job_message(services, interaction, self.n)
        else:
            await turn_history_page(services, interaction, self.n)


def parse_number(kind: str, text: str) -> int:
    """The job id or page a custom_id carries, or 0 when it is out of range."""
    value = int(text)
    upper = MAX_PAGE if kind == "h" else MAX_JOB_ID
    return value if 1 <= value <= upper else 0


MEMBER_ITEMS = (MemberButton,)
