"""What /show, /history, "Job info" and "Usage" say: pure functions over the member values."""

from __future__ import annotations

import datetime as dt
import json

from bot.i18n import has_key, t
from bot.info import message_link
from bot.members import HistoryPage, JobInfo, LiveAnswer, Located, UsageReport
from bot.render import action_name, failure_text, pick_kind, shown_prompt
from bot.safety import redact
from storage.jobs import JobRecord
from storage.records import TERMINAL_STATES

CONTENT_LIMIT = 2000
CHOICE_LIMIT = 100
PROMPT_CHARS = 60


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _safe(text: str) -> str:
    """Inside `code`: a backtick would end it."""
    return text.replace("`", "'")


def kind_name(job: JobRecord, locale: str) -> str:
    if job.kind == "action":
        return action_name(job, locale)
    key = f"info.kind.{job.kind}"
    return t(locale, key) if has_key(key) else job.kind


def choice_label(job: JobRecord, locale: str) -> str:
    """/show's autocomplete line (plain text, at most 100 characters; no Discord markdown)."""
    when = dt.datetime.fromtimestamp(job.created_at, dt.UTC).strftime("%m-%d %H:%M UTC")
    prompt = _clip(shown_prompt(job) or kind_name(job, locale), PROMPT_CHARS)
    return t(locale, "members.show.choice", id=job.id, prompt=prompt, when=when)[:CHOICE_LIMIT]


def _link(entry: Located, locale: str) -> str:
    if entry.message is None:
        return t(locale, "members.history.deleted")
    url = message_link(entry.job.guild_id, entry.message.channel_id, entry.message.message_id)
    return t(locale, "info.link", url=url)


def render_history(page: HistoryPage, locale: str) -> str:
    if page.total == 0:
        return t(locale, "members.history.empty")
    lines = [
        t(locale, "members.history.title", page=page.page, pages=page.pages)
        + " · "
        + t(locale, "members.history.total", count=page.total)
    ]
    for entry in page.entries:
        job = entry.job
        prompt = _clip(shown_prompt(job), PROMPT_CHARS)
        lines.append(
            t(
                locale,
                "members.history.line",
                id=job.id,
                state=t(locale, f"info.state.{job.state}"),
                action=kind_name(job, locale),
                prompt=f"`{_safe(prompt)}`" if prompt else "–",
                when=f"<t:{int(job.created_at)}:R>",
                link=_link(entry, locale),
            )
        )
    return _clip_lines(lines)


def _clip_lines(lines: list[str]) -> str:
    text = "\n".join(lines)
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"


def _when(value: float | None, locale: str) -> str:
    return f"<t:{int(value)}:T>" if value else t(locale, "members.info.not_yet")


def _proxy_answer(job: JobRecord, locale: str) -> str:
    parts: list[str] = [job.state]
    if job.progress is not None:
        parts.append(f"{job.progress}%")
    if job.status_text and job.state not in TERMINAL_STATES:  # words of its running time
        parts.append(_clip(job.status_text, 200))
    if job.failure:
        parts.append(_clip(failure_text(job, locale), 300))
    if job.task_id is None:
        return t(locale, "members.info.proxy_none")
    return t(locale, "members.info.proxy", answer=" · ".join(parts))


def render_job_info(info: JobInfo, locale: str) -> str:
    job = info.job
    lines = [
        t(locale, "members.info.title", id=job.id),
        t(locale, "members.info.member", user=f"<@{job.requester_id}>"),
        t(locale, "members.info.prompt", prompt=_safe(_clip(job.prompt, 700)) or "–"),
    ]
    ran = job.final_prompt
    if ran and ran != job.prompt and pick_kind(job) is None:
        lines.append(t(locale, "members.info.ran", prompt=_safe(_clip(ran, 700))))
    lines.append(t(locale, "members.info.action", action=kind_name(job, locale)))
    if info.parent is not None:
        parent = info.parent
        if parent.message is None:
            lines.append(t(locale, "members.info.parent_gone", parent=parent.job.id))
        else:
            url = message_link(
                parent.job.guild_id, parent.message.channel_id, parent.message.message_id
            )
            lines.append(t(locale, "members.info.parent", parent=parent.job.id, link=url))
    lines += [
        t(locale, "members.info.task", task=job.task_id or "–"),
        t(
            locale,
            "members.info.state",
            state=f"{t(locale, f'info.state.{job.state}')} {job.state}",
        ),
        t(
            locale,
            "members.info.times",
            submitted=_when(job.submitted_at, locale),
            started=_when(job.started_at, locale),
            finished=_when(job.finished_at, locale),
        ),
    ]
    units = t(locale, "members.info.units", count=_number(job.units))
    if info.refunded and job.units:
        units += " " + t(locale, "members.info.refunded")
    lines += [units, _proxy_answer(job, locale)]
    if info.live is None:
        return _clip_lines(lines)
    return _with_live_answer("\n".join(lines), info.live, locale)


# What a moderator looks for first in a task; the rest follows in the proxy's order, its long
# `buttons` list last.
_FIRST_KEYS = ("id", "action", "status", "progress", "failReason", "description", "state")


def _as_given(body: object) -> str:
    """The proxy's JSON, one top-level key a line, the telling keys first."""
    if not isinstance(body, dict):
        return json.dumps(body, ensure_ascii=False, default=str)
    keys = [k for k in _FIRST_KEYS if k in body]
    keys += [k for k in body if k not in keys and k != "buttons"]
    keys += ["buttons"] if "buttons" in body else []
    rows = [
        f" {json.dumps(str(k), ensure_ascii=False)}: "
        + json.dumps(body[k], ensure_ascii=False, default=str)
        for k in keys
    ]
    return "{\n" + ",\n".join(rows) + "\n}"


def _with_live_answer(head: str, live: LiveAnswer, locale: str) -> str:
    """The proxy's own answer, asked now, after the rest: as it gave it, in a code block cut to
    what is left of the message (never a secret, never a broken block)."""
    if live.failed:
        tail = t(locale, "members.info.live_failed", reason=_safe(_clip(redact(live.failed), 300)))
        return _clip_lines([head, tail])
    if live.body is None:
        return _clip_lines([head, t(locale, "members.info.live_unknown")])
    label = t(locale, "members.info.live")
    text = redact(_as_given(live.body)).replace("`", "ˋ")  # a backtick would close the block
    room = CONTENT_LIMIT - len(head) - len(label) - len("\n\n```json\n\n```")
    if room < 40:
        return _clip_lines([head])
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"{head}\n{label}\n```json\n{text}\n```"


def render_usage(report: UsageReport, locale: str) -> str:
    lines = [
        t(locale, "members.usage.title", user=f"<@{report.user_id}>"),
        t(
            locale,
            "members.usage.today",
            count=_number(report.today),
            jobs=t(locale, "members.usage.jobs", count=report.jobs_today),
        ),
        t(
            locale,
            "members.usage.week",
            count=_number(report.week),
            jobs=t(locale, "members.usage.jobs", count=report.jobs_week),
            since=f"<t:{int(report.week_start)}:d>",
        ),
    ]
    if report.quota is None:
        lines.append(t(locale, "members.usage.unlimited"))
    else:
        lines.append(t(locale, "members.usage.quota", count=_number(report.quota)))
    return "\n".join(lines)
