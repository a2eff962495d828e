"""Frozen dataclasses the repositories return, and the job states and kinds they use."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

# Guild and member records live in their own module; they stay importable from here.
from storage.guild_records import ActionUsage as ActionUsage
from storage.guild_records import AuditEntry as AuditEntry
from storage.guild_records import BanRecord as BanRecord
from storage.guild_records import ChargeRefusal as ChargeRefusal
from storage.guild_records import ChargeResult as ChargeResult
from storage.guild_records import DayUsage as DayUsage
from storage.guild_records import GuildSettingsRecord as GuildSettingsRecord
from storage.guild_records import QuotaOverride as QuotaOverride
from storage.guild_records import UsageSummary as UsageSummary
from storage.guild_records import UserSettingsRecord as UserSettingsRecord
from storage.guild_records import UserUsage as UserUsage
from storage.guild_records import option_sets_from_json as option_sets_from_json
from storage.guild_records import option_sets_to_json as option_sets_to_json

if TYPE_CHECKING:
    from storage.db import Row

JobState = Literal[
    "submitting",
    "submitted",
    "queued",
    "in_progress",
    "modal",
    "success",
    "failure",
    "cancelled",
    "unknown",
]
JobKind = Literal["imagine", "blend", "describe", "shorten", "action"]

JOB_STATES: Final = frozenset(get_args(JobState))
JOB_KINDS: Final = frozenset(get_args(JobKind))
TERMINAL_STATES: Final = frozenset({"success", "failure", "cancelled", "unknown"})
UNFINISHED_STATES: Final = JOB_STATES - TERMINAL_STATES
# The exact list of the partial index `jobs_unfinished`; queries must repeat it verbatim.
UNFINISHED_SQL: Final = "('submitting', 'submitted', 'queued', 'in_progress', 'modal')"


class Unset(enum.Enum):
    """Marks a keyword argument that was not given, so `None` can mean "back to the default"."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


@dataclass(frozen=True)
class JobButton:
    """One button of a finished task as the proxy listed it (`buttons[]`)."""

    custom_id: str
    label: str = ""
    emoji: str = ""
    style: int = 2

    def to_json(self) -> dict[str, Any]:
        return {
            "customId": self.custom_id,
            "label": self.label,
            "emoji": self.emoji,
            "style": self.style,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobButton:
        return cls(
            custom_id=str(data.get("customId") or ""),
            label=str(data.get("label") or ""),
            emoji=str(data.get("emoji") or ""),
            style=int(data.get("style") or 2),
        )


def buttons_to_json(buttons: Sequence[JobButton | Mapping[str, Any]]) -> str:
    """Accepts JobButtons or the proxy's own {customId, label, emoji, style} mappings."""
    items = [(b if isinstance(b, JobButton) else JobButton.from_json(b)).to_json() for b in buttons]
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def buttons_from_json(text: str) -> tuple[JobButton, ...]:
    if not text or text == "[]":
        return ()
    data = json.loads(text)
    return tuple(JobButton.from_json(item) for item in data if isinstance(item, dict))


MediaKind = Literal["image", "video"]


@dataclass(frozen=True)
class JobMedia:
    """The kind of a finished job's media (`image_url` holds its address) and how many separate
    files the proxy listed (4 for split grid images or Animate's videos; the first is shown)."""

    kind: MediaKind = "image"
    count: int = 1

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "count": self.count}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> JobMedia:
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        kind: MediaKind = "video" if data.get("kind") == "video" else "image"
        count = data.get("count")
        return cls(kind, count if isinstance(count, int) and count > 0 else 1)


@dataclass(frozen=True)
class JobRecord:
    id: int
    task_id: str | None
    parent_job_id: int | None
    guild_id: int | None
    channel_id: int
    requester_id: int
    kind: JobKind
    action: str
    custom_id: str | None
    button_index: int | None
    prompt: str
    final_prompt: str | None
    state: JobState
    progress: int | None
    status_text: str | None
    queue_position: int | None
    preview_url: str | None
    image_url: str | None
    attachment_url: str | None
    buttons: tuple[JobButton, ...]
    failure: str | None
    units: float
    charged_at: float | None
    locale: str | None
    created_at: float
    submitted_at: float | None
    started_at: float | None
    finished_at: float | None
    deadline_at: float | None
    updated_at: float
    media: JobMedia = JobMedia()
    proxy_id: int | None = None  # storage/proxies.py; None = the operator's default proxy

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def button(self, index: int) -> JobButton | None:
        """The stored button at `index` (as carried in our custom_id), or None if out of range."""
        return self.buttons[index] if 0 <= index < len(self.buttons) else None

    @classmethod
    def from_row(cls, row: Row | tuple[Any, ...]) -> JobRecord:
        """From a row selected with `job_columns()`.

        The tracker loads every unfinished job on each poll, so this is hot: values are taken by
        position, and the frozen dataclass's __init__ (one object.__setattr__ per field, 2-3x
        slower) is bypassed by filling the instance dict directly; equality, hashing and repr
        read the same fields.
        """
        values = list(row)
        values[_BUTTONS_AT] = buttons_from_json(values[_BUTTONS_AT])
        values[_MEDIA_AT] = JobMedia.from_json(values[_MEDIA_AT])
        job = object.__new__(cls)
        job.__dict__.update(zip(_JOB_FIELDS, values, strict=True))
        return job


_JOB_FIELDS: Final = tuple(f.name for f in fields(JobRecord))
_BUTTONS_AT: Final = _JOB_FIELDS.index("buttons")
_MEDIA_AT: Final = _JOB_FIELDS.index("media")
_COLUMN_OF: Final = {"buttons": "buttons_json", "media": "media_json"}


def job_columns(table: str = "jobs") -> str:
    """The select list `JobRecord.from_row` expects, in field order, qualified by `table`."""
    names = (_COLUMN_OF.get(name, name) for name in _JOB_FIELDS)
    return ", ".join(f"{table}.{name}" for name in names)


@dataclass(frozen=True)
class NewJob:
    """What is known of a job before its submit: the row `create_submitting` writes."""

    guild_id: int | None
    channel_id: int
    requester_id: int
    kind: JobKind
    action: str
    prompt: str
    parent_job_id: int | None = None
    custom_id: str | None = None
    button_index: int | None = None
    units: float = 0.0
    locale: str | None = None
    deadline_at: float | None = None
    proxy_id: int | None = None


@dataclass(frozen=True)
class MessageRecord:
    message_id: int
    job_id: int
    channel_id: int
    guild_id: int | None
    purpose: str
    interaction_token: str | None
    token_expires_at: float | None
    created_at: float

    def token_valid(self, now: float) -> bool:
        """Whether the interaction token may still be used to edit this message."""
        if self.interaction_token is None:
            return False
        return self.token_expires_at is None or now < self.token_expires_at

    @classmethod
    def from_row(cls, row: Row) -> MessageRecord:
        return cls(
            message_id=row["message_id"],
            job_id=row["job_id"],
            channel_id=row["channel_id"],
            guild_id=row["guild_id"],
            purpose=row["purpose"],
            interaction_token=row["interaction_token"],
            token_expires_at=row["token_expires_at"],
            created_at=row["created_at"],
        )


@dataclass(frozen=True)
class Reservation:
    """Outcome of `reserve_job`: the recorded job when every limit allowed it."""

    job: JobRecord | None
    reason: ChargeRefusal | None
    used: float
    limit: float

    @property
    def allowed(self) -> bool:
        return self.job is not None
