"""Job -> Discord message content and button rows: pure functions, no Discord types."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.i18n import has_key, resolve_locale, t
from bot.media.notes import media_lines
from bot.midjourney.button_rows import layout_rows
from bot.midjourney.custom_ids import (
    ButtonAction,
    ButtonKind,
    accepted_by,
    parse_custom_id,
)
from bot.midjourney.reasons import is_empty, reason_key
from bot.prompts import parse_describe_prompts, parse_shorten
from bot.safety import shown
from storage.jobs import JobRecord

Style = Literal["primary", "secondary", "success", "danger"]
Backend = Literal["plus", "trueai", "new-api"]

CONTENT_LIMIT = 2000
BAR_CELLS = 10
PREFIX = "mj1"
# Kinds our own pick buttons replace (they start a fresh /imagine for the clicker).
_PICK_KINDS = frozenset(
    {ButtonKind.DESCRIBE_PICK, ButtonKind.DESCRIBE_ALL, ButtonKind.SHORTEN_PICK}
)
# Shown nowhere: no result message, or nothing a Discord user can act on here.
_HIDDEN_KINDS = frozenset({ButtonKind.BOOKMARK, ButtonKind.CANCEL_JOB, ButtonKind.UNKNOWN})
_NUMBER_EMOJI = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


@dataclass(frozen=True)
class ButtonSpec:
    custom_id: str
    label: str | None = None
    emoji: str | None = None
    style: Style = "secondary"
    disabled: bool = False


@dataclass(frozen=True)
class Rendered:
    content: str
    preview_url: str | None = None
    rows: tuple[tuple[ButtonSpec, ...], ...] = field(default_factory=tuple)

    @property
    def signature(self) -> str:
        """Equal for renders that would look the same (an unchanged render is not re-sent)."""
        raw = json.dumps(
            [self.content, self.preview_url, [[b.__dict__ for b in r] for r in self.rows]]
        )
        return hashlib.sha1(raw.encode()).hexdigest()


# Ids arriving in a custom_id are checked against what SQLite can hold (and what we make).
MAX_JOB_ID = 2**63 - 1
MAX_BUTTON_NUMBER = 99
_JOB_BUTTON = re.compile(
    r"mj1:(?P<kind>[bzp]):(?P<job>\d{1,19}):(?P<n>\d{1,2})|mj1:d:(?P<djob>\d{1,19})"
)


def parse_job_button_id(custom_id: str) -> tuple[str, int, int] | None:
    """(kind, job id, number) of one of our job message buttons, or None when it is not one
    we could have made (a forged or mangled id: out-of-range job id, wrong shape)."""
    match = _JOB_BUTTON.fullmatch(custom_id)
    if match is None:
        return None
    if match["djob"] is not None:
        kind, job_id, number = "d", int(match["djob"]), 0
    else:
        kind, job_id, number = match["kind"], int(match["job"]), int(match["n"])
    if not 1 <= job_id <= MAX_JOB_ID or number > MAX_BUTTON_NUMBER:
        return None
    return kind, job_id, number


def result_button_id(job_id: int, index: int, *, dialog: bool = False) -> str:
    """`b` buttons are acknowledged at once; `z` buttons open a modal as their first answer."""
    return f"{PREFIX}:{'z' if dialog else 'b'}:{job_id}:{index}"


def pick_button_id(job_id: int, number: int) -> str:
    return f"{PREFIX}:p:{job_id}:{number}"


def dialog_button_id(job_id: int) -> str:
    return f"{PREFIX}:d:{job_id}"


def member_button_id(kind: Literal["m", "x"], job_id: int) -> str:
    """`m` sends the job to its member by DM, `x` deletes the job message."""
    return f"{PREFIX}:{kind}:{job_id}"


def member_row(job: JobRecord, locale: str) -> tuple[ButtonSpec, ...]:
    """✉️ Send to DM and 🗑️, on every finished result."""
    return (
        ButtonSpec(
            custom_id=member_button_id("m", job.id),
            label=t(locale, "members.button.dm"),
            emoji="✉️",
        ),
        ButtonSpec(custom_id=member_button_id("x", job.id), emoji="🗑️"),
    )


def _with_member_row(
    rows: list[tuple[ButtonSpec, ...]], job: JobRecord, locale: str
) -> list[tuple[ButtonSpec, ...]]:
    rows, extra = rows[:5], member_row(job, locale)
    if len(rows) < 5:
        return [*rows, extra]
    if len(rows[-1]) + len(extra) <= 5:
        return [*rows[:-1], rows[-1] + extra]
    return rows


def progress_bar(percent: int) -> str:
    percent = max(0, min(100, percent))
    filled = round(percent * BAR_CELLS / 100)
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_text(job: JobRecord, locale: str, *, with_raw: bool = False) -> str:
    """Why a job failed, in our words: our own key, a known proxy reason, or the proxy's
    unknown reason quoted after our words (escaped, secrets redacted). `with_raw` (for the
    moderators' audit channel) quotes a known reason's original words too."""
    reason = (job.failure or "").strip()
    if reason.startswith("mjbot:"):
        key, _, param = reason.removeprefix("mjbot:").partition(":")
        unknown = t(locale, "job.failure.unknown_reason")
        return t(locale, key, word=shown(param or "?"), reason=unknown)
    text = proxy_reason_text(reason, locale)
    if with_raw and reason_key(reason) is not None:
        text += f" (“{shown(_clip(' '.join(reason.split()), 200))}”)"
    return text


def proxy_reason_text(reason: str, locale: str) -> str:
    """A proxy's refusal or failReason as a member reads it (see bot/midjourney/reasons.py)."""
    if is_empty(reason):
        return t(locale, "job.failure.unknown_reason")
    key = reason_key(reason)
    if key is not None:
        return t(locale, f"reasons.{key}")
    return t(locale, "reasons.unknown", reason=shown(_clip(" ".join(reason.split()), 300)))


def _headline(job: JobRecord, locale: str) -> str:
    prompt = shown(_clip(shown_prompt(job), 900))
    who = f"<@{job.requester_id}>"
    if pick_kind(job) == "describe":
        return t(locale, "job.headline_describe", user=who)
    if job.kind == "action":
        return t(
            locale, "job.headline_action", prompt=prompt, action=action_name(job, locale), user=who
        )
    if job.kind == "blend":
        return t(locale, "job.headline_blend", user=who)
    return t(locale, "job.headline", prompt=prompt, user=who)


def action_name(job: JobRecord, locale: str) -> str:
    """What a child job did, as its button said it ("U2", "Zoom Out 2x"), else by its kind."""
    action = parse_custom_id(job.custom_id or "")
    key = f"job.action.{job.action}"
    name = t(locale, key) if has_key(key) else t(locale, "job.action.other")
    if action.kind in (ButtonKind.UPSCALE, ButtonKind.VARIATION):
        return f"{name} ({action.label})"  # "Upscale (U2)"
    if action.label:
        return action.label  # Midjourney's own names: "Upscale (Subtle)", "Zoom Out 2x"
    return f"{name} {action.emoji}" if action.emoji else name


def _status_line(job: JobRecord, locale: str) -> str:
    state = job.state
    if state == "queued":
        if job.queue_position:
            return t(locale, "job.status.queued_position", position=job.queue_position)
        return t(locale, "job.status.queued")
    if state == "in_progress":
        if job.progress is None:
            return _free_progress(job.status_text or "", locale)
        return t(locale, "job.status.running", bar=progress_bar(job.progress), percent=job.progress)
    if state in ("submitting", "submitted"):
        return t(locale, "job.status.waiting")
    if state == "modal":
        return t(locale, "job.status.modal")
    if state == "failure":
        return t(locale, "job.status.failure", reason=_clip(failure_text(job, locale), 500))
    if state == "cancelled":
        return t(locale, "job.status.cancelled")
    if state == "unknown":
        if job.failure:
            return t(locale, "job.status.unconfirmed", reason=_clip(failure_text(job, locale), 500))
        return t(locale, "job.status.unknown")
    if state == "success":
        return t(locale, "job.status.done")
    return ""


@functools.cache
def _cjk() -> re.Pattern[str]:
    """Chinese, Japanese and Korean text; compiled on first use (about 3 ms, off start-up)."""
    return re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _free_progress(text: str, locale: str) -> str:
    """A progress the proxy gave as words ("排队中", "Waiting to start"): shown as it is when
    the member reads its script, else after our own word for it."""
    if not text:
        return t(locale, "job.status.in_progress_text", text=t(locale, "job.status.in_progress"))
    quoted = shown(_clip(text, 100))
    if resolve_locale(locale) == "zh-CN" or not _cjk().search(text):
        return t(locale, "job.status.in_progress_text", text=quoted)
    return t(locale, "reasons.progress", text=quoted)


def result_actions(job: JobRecord) -> list[ButtonAction]:
    return [parse_custom_id(b.custom_id) for b in job.buttons]


def _result_rows(
    job: JobRecord, locale: str, backend: Backend, used: frozenset[int]
) -> list[tuple[ButtonSpec, ...]]:
    actions = result_actions(job)
    visible = [
        i
        for i, action in enumerate(actions)
        if action.kind not in _HIDDEN_KINDS
        and action.kind not in _PICK_KINDS
        and accepted_by(action.kind, backend)
    ]
    rows: list[tuple[ButtonSpec, ...]] = []
    if pick_kind(job) is not None:
        rows.extend(_pick_rows(job, locale))
    subset = [actions[i] for i in visible]
    for row in layout_rows(subset):
        specs = []
        for position in row:
            index = visible[position]
            action = actions[index]
            label = action.label or None
            if action.kind == ButtonKind.DESCRIBE_RETRY:
                label = t(locale, "job.button.retry")
            specs.append(
                ButtonSpec(
                    custom_id=result_button_id(job.id, index, dialog=action.needs_user_input),
                    label=label,
                    emoji=action.emoji,
                    style="primary" if index in used else "secondary",
                )
            )
        if specs:
            rows.append(tuple(specs))
    return _with_member_row(rows, job, locale)


def _pick_rows(job: JobRecord, locale: str) -> list[tuple[ButtonSpec, ...]]:
    prompts = pick_prompts(job)
    if not prompts:
        return []
    buttons = [
        ButtonSpec(custom_id=pick_button_id(job.id, n), emoji=_NUMBER_EMOJI[n - 1])
        for n in range(1, len(prompts) + 1)
    ]
    if pick_kind(job) == "describe" and len(prompts) > 1:
        buttons.append(
            ButtonSpec(
                custom_id=pick_button_id(job.id, 0),
                label=t(locale, "job.button.imagine_all"),
                emoji="🎉",
            )
        )
    return [tuple(buttons[:5])] + ([tuple(buttons[5:])] if len(buttons) > 5 else [])


def shown_prompt(job: JobRecord) -> str:
    """The prompt a job is known by: the one Midjourney ran, except for describe and shorten,
    whose "final prompt" is their result (the proposed prompts), not what was asked."""
    if pick_kind(job) is not None:
        return job.prompt or ""
    return job.final_prompt or job.prompt or ""


def pick_kind(job: JobRecord) -> Literal["describe", "shorten"] | None:
    """Whether a job's result is a list of prompts: a describe (also one started by the
    result's Retry button, whose job kind is "action") or a shorten."""
    if job.kind == "describe" or (job.kind == "action" and job.action == "describe"):
        return "describe"
    if job.kind == "shorten":
        return "shorten"
    return None


def pick_prompts(job: JobRecord) -> list[str]:
    """The prompts a describe or shorten result proposes (at most five)."""
    text = job.final_prompt or ""
    kind = pick_kind(job)
    if kind == "describe":
        return parse_describe_prompts(text)[:5]
    if kind == "shorten":
        return parse_shorten(text)[1][:5]
    return []


def _pick_content(job: JobRecord, locale: str) -> str:
    lines: list[str] = []
    if pick_kind(job) == "shorten":
        tokens, _ = parse_shorten(job.final_prompt or "")
        if tokens:
            lines.append(t(locale, "job.important_tokens", tokens=shown(", ".join(tokens))))
    for n, prompt in enumerate(pick_prompts(job), start=1):
        lines.append(f"{_NUMBER_EMOJI[n - 1]} {shown(_clip(prompt, 350))}")
    return "\n".join(lines)


def render_job(
    job: JobRecord,
    *,
    locale: str,
    backend: Backend,
    used: Sequence[int] = (),
    proxy_down: bool = False,
    notice: str | None = None,
) -> Rendered:
    """How a job message looks in its current state; `notice` is the catalogue key of a line
    running jobs carry while the service or the bot's storage is in trouble."""
    parts = [_headline(job, locale)]
    status = _status_line(job, locale)
    if status:
        parts.append(status)
    if proxy_down and notice is None:
        notice = "job.status.proxy_down"
    if notice and job.state not in ("success", "failure", "cancelled", "unknown"):
        parts.append(t(locale, notice))
    rows: list[tuple[ButtonSpec, ...]] = []
    preview = None
    if job.state == "success":
        if pick_kind(job) is not None:
            parts.append(_pick_content(job, locale))
        rows = _result_rows(job, locale, backend, frozenset(used))
        if pick_kind(job) is None:
            parts.extend(media_lines(job, locale))
    elif job.state == "in_progress":
        preview = job.preview_url
    elif job.state == "modal":
        rows = [
            (
                ButtonSpec(
                    custom_id=dialog_button_id(job.id),
                    label=t(locale, "job.button.open_dialog"),
                    emoji="✏️",
                    style="primary",
                ),
            )
        ]
    content = _clip("\n".join(p for p in parts if p), CONTENT_LIMIT)
    return Rendered(content=content, preview_url=preview, rows=tuple(rows))
