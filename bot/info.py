"""/info: a member's usage today against their quota, their running jobs and the last few done."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import Gate
from bot.errors import UserFacingError
from bot.i18n import has_key, t
from bot.requester import Requester
from storage.jobs import JobRecord, JobRepository
from storage.usage import UsageRepository

DAY_SECONDS = 24 * 60 * 60
RECENT_LIMIT = 5
RUNNING_LIMIT = 10
CONTENT_LIMIT = 2000
PROMPT_CHARS = 60
# How far back to look for finished jobs among the newest ones.
_RECENT_SCAN = 30


@dataclass(frozen=True)
class JobLine:
    """One job as /info lists it; `message_id` is its job message, when it has one."""

    job_id: int
    kind: str
    action: str
    state: str
    prompt: str
    progress: int | None
    queue_position: int | None
    guild_id: int | None
    channel_id: int
    message_id: int | None


@dataclass(frozen=True)
class InfoSummary:
    """What /info shows. `quota` and `max_running` are None when unlimited."""

    used: float
    quota: float | None
    resets_at: float
    running: tuple[JobLine, ...]
    running_total: int
    max_running: int | None
    recent: tuple[JobLine, ...]
    paused: bool


class InfoService:
    """Reads usage and jobs for one member in one guild; never changes anything."""

    def __init__(self, gate: Gate, usage: UsageRepository, jobs: JobRepository) -> None:
        self._gate = gate
        self._usage = usage
        self._jobs = jobs

    async def summary(self, who: Requester) -> InfoSummary:
        if who.guild_id is None:
            raise UserFacingError("access.guild_only")
        policy = await self._gate.policy(who.guild_id)
        limits = await self._gate.limits(who, policy)
        used = await self._usage.usage_since(who.guild_id, who.user_id, limits.since)
        running = await self._jobs.jobs_in_flight(who.guild_id, who.user_id)
        newest = await self._jobs.recent_jobs(who.guild_id, who.user_id, limit=_RECENT_SCAN)
        finished = [job for job in newest if job.is_terminal][:RECENT_LIMIT]
        return InfoSummary(
            used=used,
            quota=limits.user_quota if limits.user_quota > 0 else None,
            resets_at=limits.since + DAY_SECONDS,
            running=tuple([await self._line(job) for job in running[:RUNNING_LIMIT]]),
            running_total=len(running),
            max_running=limits.max_user_in_flight or None,
            recent=tuple([await self._line(job) for job in finished]),
            paused=policy.paused,
        )

    async def _line(self, job: JobRecord) -> JobLine:
        messages = await self._jobs.messages_for_job(job.id)
        return JobLine(
            job_id=job.id,
            kind=job.kind,
            action=job.action,
            state=job.state,
            prompt=job.prompt,
            progress=job.progress,
            queue_position=job.queue_position,
            guild_id=job.guild_id,
            channel_id=messages[0].channel_id if messages else job.channel_id,
            message_id=messages[0].message_id if messages else None,
        )


# ---- rendering (pure) ----------------------------------------------------------------------
def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(line: JobLine, locale: str) -> str:
    if line.kind == "action":
        key = f"job.action.{line.action}"
        return t(locale, key) if has_key(key) else t(locale, "info.kind.action")
    return t(locale, f"info.kind.{line.kind}")


def _line(line: JobLine, locale: str) -> str:
    parts = [f"{t(locale, f'info.state.{line.state}')} **{_kind(line, locale)}**"]
    if line.prompt and "describe" not in (line.kind, line.action):
        prompt = _clip(line.prompt, PROMPT_CHARS).replace("`", "'")
        parts.append(f"`{prompt}`")
    if line.state == "in_progress" and line.progress is not None:
        parts.append(t(locale, "info.progress", percent=line.progress))
    elif line.state == "queued":
        if line.queue_position:
            parts.append(t(locale, "info.queued_position", position=line.queue_position))
        else:
            parts.append(t(locale, "info.queued"))
    if line.message_id is None:
        parts.append(t(locale, "info.no_message"))
    else:
        url = message_link(line.guild_id, line.channel_id, line.message_id)
        parts.append(t(locale, "info.link", url=url))
    return "• " + " · ".join(parts)


def _units(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def render_info(summary: InfoSummary, locale: str) -> str:
    """The /info message (Discord markdown, at most 2,000 characters)."""
    lines = [t(locale, "info.title")]
    if summary.quota is None:
        used = _units(summary.used)
        lines.append(t(locale, "info.usage_unlimited", used=used, count=used))
    else:
        reset = f"<t:{int(summary.resets_at)}:R>"
        lines.append(
            t(
                locale,
                "info.usage",
                used=_units(summary.used),
                quota=_units(summary.quota),
                count=_units(summary.quota),
                reset=reset,
            )
        )
    if summary.paused:
        lines.append(t(locale, "info.paused"))
    lines.append("")
    if summary.running_total == 0:
        lines.append(t(locale, "info.running_none"))
    else:
        count = summary.running_total
        if summary.max_running is None:
            lines.append(t(locale, "info.running", count=count))
        else:
            lines.append(t(locale, "info.running_limited", count=count, limit=summary.max_running))
        lines += [_line(line, locale) for line in summary.running]
        hidden = count - len(summary.running)
        if hidden > 0:
            lines.append(t(locale, "info.running_more", count=hidden))
    lines.append("")
    if summary.recent:
        lines.append(t(locale, "info.recent"))
        lines += [_line(line, locale) for line in summary.recent]
    else:
        lines.append(t(locale, "info.recent_none"))
    text = "\n".join(lines)
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"
