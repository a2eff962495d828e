"""What a submit to the proxy came to: a small typed union instead of raw return codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.midjourney.answers import RefusalKind, refusal_of
from bot.midjourney.models import SubmitResponse

# Phrases with which new-api's code 1 (rewritten from 21) says that a dialog is waiting.
_DIALOG_PHRASES = ("waiting for window confirm", "窗口等待")


@dataclass(frozen=True)
class Submitted:
    """Code 1: the proxy accepted the job; trueai may start several (`PicReader::all`)."""

    task_id: str
    extra_ids: tuple[str, ...] = ()

    @property
    def message_key(self) -> str:
        return "submit.submitted"

    @property
    def message_params(self) -> dict[str, str]:
        return {"task_id": self.task_id, "count": str(1 + len(self.extra_ids))}

    @property
    def message(self) -> str:
        return "Your job was accepted and will start shortly."


@dataclass(frozen=True)
class Queued:
    """Code 22: accepted, but waiting behind other jobs."""

    task_id: str
    position: int | None = None

    @property
    def message_key(self) -> str:
        return "submit.queued"

    @property
    def message_params(self) -> dict[str, str]:
        return {
            "task_id": self.task_id,
            "position": "" if self.position is None else str(self.position),
        }

    @property
    def message(self) -> str:
        if self.position is None:
            return "Your job is queued and will start when a slot frees up."
        return f"Your job is queued; {self.position} job(s) ahead of it."


@dataclass(frozen=True)
class NeedsDialog:
    """Code 21 (or new-api's rewritten 1): the task waits in MODAL for `submit/modal`."""

    task_id: str
    prefill: str = ""
    remix: bool = False

    @property
    def message_key(self) -> str:
        return "submit.needs_dialog"

    @property
    def message_params(self) -> dict[str, str]:
        return {"task_id": self.task_id, "prefill": self.prefill}

    @property
    def message(self) -> str:
        return "This action needs a few more details before it can start."


@dataclass(frozen=True)
class ExistingTask:
    """Old code 21 with `properties.status`: the same job already exists; follow that task."""

    task_id: str
    status: str = ""

    @property
    def message_key(self) -> str:
        return "submit.existing_task"

    @property
    def message_params(self) -> dict[str, str]:
        return {"task_id": self.task_id, "status": self.status}

    @property
    def message(self) -> str:
        return "This job was already done before; showing that one."


@dataclass(frozen=True)
class QueueFull:
    """Code 23: the proxy's queue is full."""

    @property
    def message_key(self) -> str:
        return "submit.queue_full"

    @property
    def message_params(self) -> dict[str, str]:
        return {}

    @property
    def message(self) -> str:
        return "The Midjourney queue is full right now. Please try again in a few minutes."


@dataclass(frozen=True)
class BannedPrompt:
    """Code 24: the prompt contains a word the proxy refuses."""

    word: str | None = None

    @property
    def message_key(self) -> str:
        return "submit.banned_prompt"

    @property
    def message_params(self) -> dict[str, str]:
        return {"word": self.word or ""}

    @property
    def message(self) -> str:
        if self.word:
            return f"Your prompt was refused because it contains the banned word “{self.word}”."
        return "Your prompt was refused because it contains a banned word."


@dataclass(frozen=True)
class Rejected:
    """The proxy refused the request (codes 3, 4, 9, HTTP 4xx); `description` says why."""

    code: int | None
    description: str
    http_status: int | None = None

    @property
    def message_key(self) -> str:
        if self.http_status in (401, 403):
            return "submit.key_refused"
        return "submit.rejected"

    @property
    def message_params(self) -> dict[str, str]:
        return {"code": "" if self.code is None else str(self.code), "reason": self.description}

    @property
    def message(self) -> str:
        if self.http_status in (401, 403):
            return "The Midjourney service refused the bot's API key; please tell a moderator."
        if self.description:
            return f"The Midjourney service refused the request: {self.description.rstrip('.')}."
        return "The Midjourney service refused the request."


@dataclass(frozen=True)
class Busy:
    """The service answered "not now" (429, or its balance is spent): the job never started.

    `kind` is "saturated" (the relay's upstream is full: try later), "quota" (a moderator must
    top up) or "rate_limited" (too many requests: wait `retry_after` seconds when given).
    """

    kind: RefusalKind
    http_status: int
    retry_after: float | None = None

    @property
    def message_key(self) -> str:
        return f"proxy.submit.{self.kind}"

    @property
    def message_params(self) -> dict[str, str]:
        return {}

    @property
    def message(self) -> str:
        if self.kind == "quota":
            return "The Midjourney account behind the bot has run out of credit; tell a moderator."
        return "The Midjourney service is busy right now. Please try again in a few minutes."


@dataclass(frozen=True)
class Unavailable:
    """No usable answer (5xx, timeout, garbage); `maybe_sent` means the job may exist anyway."""

    reason: str
    maybe_sent: bool

    @property
    def message_key(self) -> str:
        return "submit.maybe_sent" if self.maybe_sent else "submit.unavailable"

    @property
    def message_params(self) -> dict[str, str]:
        return {"reason": self.reason}

    @property
    def message(self) -> str:
        if self.maybe_sent:
            return (
                "The Midjourney service did not answer clearly, so the job may or may not have "
                "started; it will not be sent again automatically."
            )
        return "The Midjourney service cannot be reached right now. Please try again later."


SubmitOutcome = (
    Submitted
    | Queued
    | NeedsDialog
    | ExistingTask
    | QueueFull
    | BannedPrompt
    | Rejected
    | Busy
    | Unavailable
)


def classify(
    status_code: int, payload: Any, *, text: str = "", retry_after: float | None = None
) -> SubmitOutcome:
    """Turn an HTTP status and decoded JSON body (None when empty) into an outcome.

    `text` is the raw body (a 429's or 403's words say which refusal it is).
    """
    refusal = refusal_of(status_code, text, retry_after)
    if refusal is not None and refusal.kind == "key_refused":
        return Rejected(None, f"the API key was refused (HTTP {status_code})", status_code)
    if refusal is not None:
        return Busy(refusal.kind, status_code, refusal.retry_after)
    if status_code >= 500:
        return Unavailable(f"server error (HTTP {status_code})", maybe_sent=True)
    if status_code >= 400:
        return _http_error(status_code, payload)
    if not 200 <= status_code < 300:
        return Unavailable(f"unexpected HTTP {status_code}", maybe_sent=True)
    if not isinstance(payload, dict):
        return Unavailable("the answer was not a JSON object", maybe_sent=True)
    return _by_code(SubmitResponse.model_validate(payload))


def _by_code(body: SubmitResponse) -> SubmitOutcome:
    code, props = body.code, body.properties
    task_id = body.result[0] if body.result else ""
    if code in (1, 21, 22) and not task_id:
        return Unavailable(f"code {code} without a task id", maybe_sent=True)
    match code:
        case 1:
            if _asks_for_dialog(body):
                return _dialog(task_id, props)
            return Submitted(task_id, tuple(body.result[1:]))
        case 22:
            return Queued(task_id, _position(props.get("numberOfQueues")))
        case 21:
            status = props.get("status")
            if isinstance(status, str) and status.strip():
                return ExistingTask(task_id, status.strip().upper())
            return _dialog(task_id, props)
        case 23:
            return QueueFull()
        case 24:
            word = props.get("bannedWord")
            return BannedPrompt(str(word) if word not in (None, "") else None)
        case None:
            return Unavailable("the answer carried no return code", maybe_sent=True)
        case _:
            return Rejected(code, body.description)


def _asks_for_dialog(body: SubmitResponse) -> bool:
    text = body.description.lower()
    return any(p in text for p in _DIALOG_PHRASES) or body.properties.get("remix") is True


def _dialog(task_id: str, props: dict[str, Any]) -> NeedsDialog:
    prefill = props.get("finalPrompt")
    return NeedsDialog(
        task_id, prefill if isinstance(prefill, str) else "", remix=props.get("remix") is True
    )


def _position(value: Any) -> int | None:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None


def _http_error(status_code: int, payload: Any) -> SubmitOutcome:
    """new-api's 4xx shapes: `{description, type, code}` or `{error: {message}}`; else plain."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return Rejected(None, error["message"].strip(), status_code)
        body = SubmitResponse.model_validate(payload)
        if body.code == 23:
            return QueueFull()
        if body.code == 24:
            return BannedPrompt(None)
        if body.description or body.code is not None:
            return Rejected(body.code, body.description, status_code)
    if status_code == 404:
        return Rejected(None, "the proxy does not offer this request (HTTP 404)", status_code)
    return Rejected(None, f"HTTP {status_code}", status_code)
