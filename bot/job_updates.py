"""What one reading of a task changes for its job: the update the tracker writes, or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.midjourney.models import Task
from storage.records import JobButton, JobMedia, JobState

TERMINAL_STATES = frozenset({"success", "failure", "cancelled", "unknown"})
_STATUS_TO_STATE: dict[str, JobState] = {
    "NOT_START": "submitted",
    "SUBMITTED": "submitted",
    "IN_PROGRESS": "in_progress",
    "MODAL": "modal",
    "SUCCESS": "success",
    "FAILURE": "failure",
    "CANCEL": "cancelled",
}
Seen = tuple[JobState, int | None, str | None, str | None]
# A task this far along is "finishing": between two full poll cycles it is read again, with the
# other finishing tasks in a batch of their own, FINISHING_READS times per poll interval (every
# second with the default 3 s), so that its end is seen about a second after the proxy reached
# it rather than up to a whole interval later.
FINISHING_PERCENT = 90
FINISHING_READS = 3


@dataclass
class Followed:
    """A job the tracker follows, and what was last written for it."""

    job_id: int
    task_id: str
    deadline: float
    state: JobState
    guild_id: int | None = None
    seen: Seen | None = None  # what was last written for it (None: unknown, write the next)
    missing_since: float | None = None  # when the proxy first said it does not know the task
    fetch_errors: int = 0


@dataclass
class JobUpdate:
    """One job's change read in a cycle: a progress update or its end."""

    followed: Followed
    fields: dict[str, Any]
    seen: Seen | None = None  # None: the job ends

    @property
    def ends(self) -> bool:
        return self.seen is None


def state_of(task: Task) -> JobState | None:
    """Our job state for a proxy status; None while the proxy does not know yet."""
    return _STATUS_TO_STATE.get(task.status) if task.status else None


def failure_update(followed: Followed, reason: str) -> JobUpdate:
    fields: dict[str, Any] = {
        "state": "failure",
        "image_url": None,
        "buttons": [],
        "final_prompt": None,
        "failure": reason,
    }
    return JobUpdate(followed, fields)


def plan_update(followed: Followed, task: Task) -> JobUpdate | None:
    """What this reading changes for its job; None when nothing (nothing is written)."""
    state = state_of(task)
    if state is None:
        return None
    if state in TERMINAL_STATES:
        buttons = [
            JobButton(b.custom_id, b.label or "", b.emoji or "", b.style or 2)
            for b in task.buttons
            if b.custom_id
        ]
        failure = None
        if state != "success":
            failure = (task.fail_reason or "").strip() or None
        fields: dict[str, Any] = {
            "state": state,
            "image_url": task.media.url if state == "success" else None,
            "media": job_media(task) if state == "success" else None,
            "buttons": buttons if state == "success" else [],
            "final_prompt": task.final_prompt or task.prompt_en or None,
            "failure": failure,
        }
        return JobUpdate(followed, fields)
    if state == "submitted" and followed.state == "queued":
        return None  # the proxy says "not started": keep showing the queue position
    preview = task.image_url if state == "in_progress" else None
    seen: Seen = (state, task.progress_pct, task.progress_text or None, preview)
    if seen == followed.seen:
        return None
    fields = {
        "state": state,
        "progress": seen[1],
        "status_text": seen[2],
        "preview_url": preview,
        "queue_position": None,
    }
    return JobUpdate(followed, fields, seen)


def job_media(task: Task) -> JobMedia:
    """What a finished task shows, as the job records it (its address goes in image_url)."""
    media = task.media
    return JobMedia(media.kind, max(1, media.count))


def finishing(followed: Followed) -> bool:
    """The task was last seen running and near its end (see FINISHING_PERCENT)."""
    seen = followed.seen
    return seen is not None and seen[0] == "in_progress" and (seen[1] or 0) >= FINISHING_PERCENT


def next_poll(
    followed: Iterable[Followed],
    *,
    since_full: float,
    since_any: float,
    full_delay: float,
    finishing_delay: float | None,
) -> tuple[float, list[str] | None]:
    """How long until the next poll and which tasks it reads: None for every followed task (a
    full cycle, `full_delay` after the last one ended), or only the finishing ones
    (`finishing_delay` after the last poll of any kind, when that comes first; None: never)."""
    full = max(0.0, full_delay - since_full)
    if finishing_delay is None or finishing_delay - since_any >= full:
        return full, None
    ids = [f.task_id for f in followed if finishing(f)]
    if not ids:
        return full, None
    return max(0.0, finishing_delay - since_any), ids
