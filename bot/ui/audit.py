"""Posts finished jobs and moderator changes to a guild's audit-log channel, never failing a job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import discord

from bot.access import Gate
from bot.i18n import t
from bot.render import failure_text, shown_prompt
from bot.safety import redact, shown
from bot.ui.context import jump_url
from bot.ui.outbox import Outbox, Priority, Route
from storage.guilds import AuditEntry
from storage.jobs import JobRecord, JobRepository

log = logging.getLogger(__name__)

PROMPT_SHOWN = 300
_STATE_ICONS = {"success": "✅", "failure": "❌", "cancelled": "🛑", "unknown": "⚠️"}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_text(entry: AuditEntry, locale: str) -> str:
    """One moderator change: who, what, when (Discord renders the timestamp locally)."""
    action = t(locale, f"admin.audit.action.{entry.action}")
    detail = f": {shown(entry.detail)}" if entry.detail else ""
    return t(
        locale,
        "admin.audit.change",
        user=f"<@{entry.actor_id}>",
        action=action,
        detail=detail,
        when=f"<t:{int(entry.created_at)}:f>",
    )


def job_text(job: JobRecord, locale: str, link: str | None) -> str:
    """One finished job: who, the action, the prompt, how it ended and where to see it."""
    icon = _STATE_ICONS.get(job.state, "•")
    prompt = shown(_clip(shown_prompt(job), PROMPT_SHOWN)) or "-"
    outcome = t(locale, f"admin.audit.job_state.{job.state}")
    if job.state in ("failure", "unknown"):
        outcome = f"{outcome} ({_clip(failure_text(job, locale, with_raw=True), 400)})"
    return t(
        locale,
        "admin.audit.job",
        icon=icon,
        id=job.id,
        user=f"<@{job.requester_id}>",
        action=job.action,
        prompt=prompt,
        outcome=outcome,
        link=link or "-",
        when=f"<t:{int(job.finished_at or job.updated_at)}:f>",
    )


class AuditPoster:
    """Sends audit lines with the bot token; each post runs in the background and only logs."""

    def __init__(
        self,
        client: discord.Client,
        gate: Gate,
        jobs: JobRepository,
        *,
        outbox: Outbox | None = None,
    ) -> None:
        self._client = client
        self._gate = gate
        self._jobs = jobs
        # Lines wait for the channel's bucket there, like job messages, last in priority.
        self._outbox = outbox
        self._tasks: set[asyncio.Task[None]] = set()
        self.posted = 0

    async def job_finished(self, job: JobRecord) -> None:
        if job.guild_id is not None:
            self._spawn(self._post_job(job.guild_id, job))

    async def proxy_alert(self, guild_id: int, key: str) -> None:
        """A sentence about the image service that only a moderator can act on."""
        target = await self._target(guild_id)
        if target is not None:
            self._spawn(self._send(guild_id, *target, lambda locale: t(locale, key)))

    async def change(self, entry: AuditEntry) -> None:
        """The channel is looked up now: turning the audit log off is still announced in it."""
        target = await self._target(entry.guild_id)
        if target is not None:
            self._spawn(self._send(entry.guild_id, *target, lambda lc: change_text(entry, lc)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _target(self, guild_id: int) -> tuple[int, str] | None:
        """The guild's audit channel and language, or None when it has none."""
        try:
            policy = await self._gate.policy(guild_id)
        except Exception:
            log.warning("could not read the audit channel of guild %s", guild_id, exc_info=True)
            return None
        if policy.audit_channel_id is None:
            return None
        return policy.audit_channel_id, policy.locale or "en"

    async def _post_job(self, guild_id: int, job: JobRecord) -> None:
        target = await self._target(guild_id)
        if target is None:
            return
        messages = await self._jobs.messages_for_job(job.id)
        link = None
        if messages:
            link = jump_url(guild_id, messages[0].channel_id, messages[0].message_id)
        await self._send(guild_id, *target, lambda locale: job_text(job, locale, link))

    async def _send(
        self, guild_id: int, channel_id: int, locale: str, text: Callable[[str], str]
    ) -> None:
        try:
            channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
            content = redact(text(locale))[:2000]
            if self._outbox is None:
                await channel.send(content, allowed_mentions=discord.AllowedMentions.none())
            else:
                async with self._outbox.slot(Priority.AUDIT, Route.create(channel_id)):
                    await channel.send(content, allowed_mentions=discord.AllowedMentions.none())
            self.posted += 1
        except Exception:
            # An audit line is never worth a failed job: log and carry on.
            log.warning("could not post to the audit channel of guild %s", guild_id, exc_info=True)

    async def close(self) -> None:
        """Let posts in progress finish (briefly), then drop the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
