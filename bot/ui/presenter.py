"""Shows jobs in Discord: posts and edits job messages, coalesced, and uploads final images."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord
import httpx

from bot.i18n import t
from bot.media.final import FinalMedia
from bot.render import CONTENT_LIMIT, ButtonSpec, Rendered, render_job
from bot.safety import redact
from bot.tracker import TERMINAL_STATES
from bot.ui.context import jump_url
from bot.ui.delivery import Delivery, Held
from bot.ui.outbox import Outbox, Priority
from storage.jobs import JobRecord, JobRepository, MessageRecord
from storage.messages import JobDisplay

if TYPE_CHECKING:
    from bot.config import Backend, Settings

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}


def build_view(rows: tuple[tuple[ButtonSpec, ...], ...]) -> discord.ui.View | None:
    """A view that only carries components; clicks are dispatched by the DynamicItems."""
    if not rows:
        return None
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(rows):
        for spec in row:
            view.add_item(
                discord.ui.Button(
                    custom_id=spec.custom_id,
                    label=spec.label,
                    emoji=spec.emoji,
                    style=_STYLES[spec.style],
                    disabled=spec.disabled,
                    row=row_index,
                )
            )
    view.stop()  # a stopped view is not stored: the DynamicItems own the dispatch
    return view


def mentions_for(job: JobRecord) -> discord.AllowedMentions:
    """A job message may ping its requester and nobody else (not a `<@id>` in a prompt, nor
    anyone named in a proxy's text)."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(job.requester_id)], replied_user=False
    )


def message_kwargs(rendered: Rendered, job: JobRecord) -> dict[str, Any]:
    embeds = []
    if rendered.preview_url:
        embeds.append(discord.Embed().set_image(url=rendered.preview_url))
    return {
        "content": redact(rendered.content),
        "embeds": embeds,
        "view": build_view(rendered.rows),
        "allowed_mentions": mentions_for(job),
    }


@dataclass
class _Coalescer:
    last_signature: str | None = None
    last_edit: float = 0.0
    pending: asyncio.Task[None] | None = None
    waiting: bool = False  # the pending edit still sleeps (it will read the newest state)
    reading: bool = False  # the pending edit has read the job: later changes need another edit
    dirty: bool = False  # a change came after the pending edit read the job
    final: bool = False  # that change ended the job: send it without waiting
    record: MessageRecord | None = None  # the job's message, once known


class JobPresenter:
    """Renders jobs into their Discord messages; one coalesced edit stream per job.

    Where each request goes (the job's interaction token or the channel) and when (the outbox's
    priorities and pacing) is `Delivery`'s business.
    """

    def __init__(
        self,
        client: discord.Client,
        jobs: JobRepository,
        settings: Settings,
        downloads: httpx.AsyncClient,
        *,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._settings = settings
        self._downloads = downloads
        self._media = FinalMedia(
            downloads,
            proxy_base_url=settings.midjourney.base_url,
            origin_of=lambda job: self.origin_of(job),
            max_download_bytes=int(settings.jobs.download_max_mb * 1024 * 1024),
            timeout=settings.jobs.download_timeout_seconds,
        )
        outbox = outbox or Outbox(requests_per_second=settings.discord.global_requests_per_second)
        self._delivery = Delivery(client, outbox, clock=clock)
        self._clock = clock
        self._states: dict[int, _Coalescer] = {}
        # Discord tells each interaction the guild's upload limit; the guild cache may not know it.
        self._upload_limits: dict[int, int] = {}
        self._posting: set[int] = set()
        # The notice running jobs carry while the proxy or storage is in trouble (catalogue key).
        self.notice: Callable[[JobRecord], str | None] = lambda job: None
        # The job's own proxy (bot/proxies.py): its button set and its media's origin.
        self.backend_of: Callable[[JobRecord], Backend] = lambda job: settings.midjourney.backend
        self.origin_of: Callable[[JobRecord], str] = lambda job: settings.midjourney.base_url
        self._tasks: set[asyncio.Task[None]] = set()
        self.edits = 0

    # ---- rendering -------------------------------------------------------------------------
    async def render(self, job: JobRecord) -> Rendered:
        """How `job` looks in its message now (its used buttons and parent link read once)."""
        shown = await self._jobs.display(job.id)
        return self._render(
            JobDisplay(job, None, None, frozenset()) if shown is None else replace(shown, job=job)
        )

    def _render(self, shown: JobDisplay) -> Rendered:
        job = shown.job
        locale = job.locale or "en"
        rendered = render_job(
            job,
            locale=locale,
            backend=self.backend_of(job),
            used=sorted(shown.used),
            notice=self.notice(job),
        )
        parent = shown.parent_message
        if parent is None:
            return rendered
        # A followup cannot be a reply: a child job's message links to its parent's instead.
        link = jump_url(parent.guild_id, parent.channel_id, parent.message_id)
        content = t(locale, "budget.from_parent", link=link) + "\n" + rendered.content
        return replace(rendered, content=content[:CONTENT_LIMIT])

    # ---- messages ---------------------------------------------------------------------------
    async def post_reply(
        self,
        job: JobRecord,
        reply_to: int | None,
        *,
        interaction: discord.Interaction[Any] | None = None,
    ) -> discord.Message:
        """Post a job's message: a followup of `interaction` while its token lives, else a
        channel message in the job's channel (a reply to `reply_to`)."""
        # Until the message is recorded, updates of the job must not post a second one.
        self._posting.add(job.id)
        try:
            message, rendered, record = await self._post(job, reply_to, interaction)
        finally:
            self._posting.discard(job.id)
        self._remember(job.id, rendered).record = record
        latest = await self._jobs.get(job.id)
        if latest is not None:  # it may have moved on while the message was on its way
            self._schedule(job.id, final=latest.state in TERMINAL_STATES)
        return message

    async def post_copy(
        self,
        job: JobRecord,
        kwargs: dict[str, Any],
        *,
        channel_id: int,
        guild_id: int | None,
        interaction: discord.Interaction[Any],
        locale: str,
    ) -> discord.Message:
        """Post a job's message again (/show) as a followup of `interaction` while its token
        lives, else in the channel (paced by the outbox), and remember it for its buttons."""
        message, token, expires = await self._delivery.post(
            channel_id,
            guild_id,
            kwargs,
            reply_to=None,
            interaction=interaction,
            locale=locale,
            posting="members.show.posting",
        )
        await self._jobs.add_message(
            message_id=message.id,
            job_id=job.id,
            channel_id=channel_id,
            guild_id=guild_id,
            purpose="show",
            interaction_token=token,
            token_expires_at=expires,
        )
        return message

    async def _post(
        self, job: JobRecord, reply_to: int | None, interaction: discord.Interaction[Any] | None
    ) -> tuple[discord.Message, Rendered, MessageRecord]:
        shown = await self._jobs.display(job.id) or JobDisplay(job, None, None, frozenset())
        rendered = self._render(shown)
        kwargs = message_kwargs(rendered, job)
        if kwargs["view"] is None:
            del kwargs["view"]
        # A followup cannot be a reply: a child job links to its parent's message instead (see
        # _render); a job with no parent job that replies to a message (a picked prompt) stays a
        # reply, in the channel.
        if reply_to is not None and job.parent_job_id is None:
            interaction = None
        message, token, expires = await self._delivery.post(
            job.channel_id,
            job.guild_id,
            kwargs,
            reply_to=reply_to,
            interaction=interaction,
            locale=job.locale or "en",
        )
        record = await self._jobs.add_message(
            message_id=message.id,
            job_id=job.id,
            channel_id=job.channel_id,
            guild_id=job.guild_id,
            interaction_token=token,
            token_expires_at=expires,
        )
        return message, rendered, record

    def _remember(self, job_id: int, rendered: Rendered) -> _Coalescer:
        state = self._states.setdefault(job_id, _Coalescer())
        state.last_signature = rendered.signature
        state.last_edit = self._clock()
        return state

    # ---- updates ----------------------------------------------------------------------------
    async def job_changed(self, job: JobRecord) -> None:
        """Schedule an edit of the job's messages; never blocks the caller on Discord."""
        self._schedule(job.id, final=job.state in TERMINAL_STATES)

    def _schedule(self, job_id: int, *, final: bool) -> None:
        state = self._states.setdefault(job_id, _Coalescer())
        if state.pending is not None and not state.pending.done():
            if state.reading:
                state.dirty, state.final = True, state.final or final
                return  # sent again right after the edit in flight
            if not final:
                return  # the waiting edit renders the newest state when it gets its slot
            state.pending.cancel()  # the job ended: no reason to keep waiting
        interval = self._settings.jobs.edit_interval_seconds
        delay = 0.0 if final else max(0.0, state.last_edit + interval - self._clock())
        state.pending = self._spawn(
            self._flush_after(job_id, delay, final=final), name=f"mjbot-edit-{job_id}"
        )

    async def refresh(self, job_id: int) -> None:
        """Re-render a job at once (e.g. a button of it was used)."""
        job = await self._jobs.get(job_id)
        if job is not None:
            await self.job_changed(job)

    def _spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _flush_after(self, job_id: int, delay: float, *, final: bool) -> None:
        state = self._states[job_id]
        held = Held()
        if delay > 0:
            await asyncio.sleep(delay)  # rate limiting of edits, not a wait for an event
        shown: JobDisplay | None = None
        try:
            if not final and state.record is not None:
                # A progress edit waits for its slot first, then reads: it shows the newest state.
                route = self._delivery.route(state.record)
                await self._delivery.hold(held, Priority.PROGRESS, route)
            state.reading = True
            shown = await self._jobs.display(job_id)
            if shown is not None:
                await self._flush(shown, state, held)
        except Exception:
            log.exception("could not update the message of job %s", job_id)
            shown = None
        finally:
            state.reading = False
            self._delivery.release(held)
        if state.dirty:
            state.dirty, final, state.final = False, state.final, False
            state.pending = None
            self._schedule(job_id, final=final)
        elif shown is None or shown.job.state in TERMINAL_STATES:
            self._states.pop(job_id, None)

    async def _flush(self, shown: JobDisplay, state: _Coalescer, held: Held) -> None:
        job = shown.job
        record = shown.message
        if job.id in self._posting:
            # Its first message is on its way (or recorded, its post not yet returned): post_reply
            # catches up afterwards, within the edit interval (an edit now would follow the post
            # at once).
            return
        if record is None:
            # Recorded and submitted, but the process stopped before its message was posted.
            self._delivery.release(held)
            parent = shown.parent_message
            await self.post_reply(job, reply_to=parent.message_id if parent else None)
            return
        state.record = record
        rendered = self._render(shown)
        needs_upload = job.state == "success" and job.attachment_url is None and bool(job.image_url)
        if rendered.signature == state.last_signature and not needs_upload:
            return
        kwargs = message_kwargs(rendered, job)
        if needs_upload:
            kwargs.update(await self._final_kwargs(job, shown.used))
        priority = Priority.FINAL if job.state in TERMINAL_STATES else Priority.PROGRESS
        edited = await self._delivery.edit(record, kwargs, priority, held)
        self.edits += 1
        state.last_signature = rendered.signature
        state.last_edit = self._clock()
        if needs_upload:
            # "" records that the upload was tried and failed: the message keeps the link.
            url = edited.attachments[0].url if edited.attachments else ""
            await self._jobs.set_attachment(job.id, url)

    async def _final_kwargs(self, job: JobRecord, used: frozenset[int]) -> dict[str, Any]:
        """The attachment and the content that goes with it, or nothing if the download failed."""
        upload = await self._final_image(job)
        if upload is None:
            return {}
        file, reencoded = upload
        locale = job.locale or "en"
        content = render_job(
            replace(job, attachment_url="uploading"),
            locale=locale,
            backend=self.backend_of(job),
            used=sorted(used),
        ).content
        if reencoded and job.image_url:
            content += "\n" + t(locale, "job.original_link", url=job.image_url)
        return {"attachments": [file], "content": redact(content)[:2000]}

    async def parent_message(self, job: JobRecord) -> int | None:
        if job.parent_job_id is None:
            return None
        parents = await self._jobs.messages_for_job(job.parent_job_id)
        return parents[0].message_id if parents else None

    async def _final_image(self, job: JobRecord) -> tuple[discord.File, bool] | None:
        upload = await self._media.upload_for(job, self._upload_limit(job.guild_id))
        if upload is None:
            return None
        return discord.File(io.BytesIO(upload.data), filename=upload.filename), upload.reencoded

    def note_upload_limit(self, guild_id: int | None, limit: int) -> None:
        """Remember the upload limit an interaction of this guild carried."""
        if guild_id is not None and limit > 0:
            self._upload_limits[guild_id] = limit

    def _upload_limit(self, guild_id: int | None) -> int:
        if guild_id is not None and guild_id in self._upload_limits:
            return self._upload_limits[guild_id]
        guild = self._client.get_guild(guild_id) if guild_id else None
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def resume(self, jobs: list[JobRecord]) -> None:
        """After a restart: bring every unfinished job's message up to date."""
        for job in jobs:
            await self.job_changed(job)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
