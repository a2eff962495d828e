"""What the proxy's answers to polls and submits say about the service, told to whom it concerns.

The tracker reports every poll cycle here: a cycle the service answered, or the error that failed
it. A failure is classified (key refused, balance spent, upstream saturated, rate limited, not
answering) and confirmed after a few cycles in a row; then the members' running job messages
carry a notice (`notice`), and for what only a moderator can fix (a refused key, a spent balance)
each affected server's audit channel is told once and the log gets one ERROR.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

from bot.midjourney.errors import (
    APIConnectionError,
    AuthenticationError,
    MidjourneyError,
    RateLimitError,
)
from bot.midjourney.outcomes import (
    Busy,
    ExistingTask,
    NeedsDialog,
    Queued,
    Rejected,
    SubmitOutcome,
    Submitted,
)
from bot.midjourney.reasons import reason_key

log = logging.getLogger(__name__)

Condition = Literal["not_answering", "failing", "key_refused", "quota", "saturated", "rate_limited"]
# guild id, catalogue key of the sentence for its audit channel
AlertSink = Callable[[int, str], Awaitable[None]]

# Failed cycles in a row before a condition is confirmed and shown.
CONFIRM_AFTER: dict[Condition, int] = {
    "not_answering": 3,
    "failing": 3,
    "key_refused": 2,
    "quota": 1,
    "saturated": 2,
    "rate_limited": 3,
}
# The line added to running job messages while a condition holds.
NOTICE_KEYS: dict[Condition, str] = {
    "not_answering": "job.status.proxy_down",
    "failing": "proxy.notice.failing",
    "key_refused": "proxy.notice.key_refused",
    "quota": "proxy.notice.quota",
    "saturated": "proxy.notice.busy",
    "rate_limited": "proxy.notice.busy",
}
STORAGE_NOTICE = "proxy.notice.storage"
# Conditions only a moderator or the operator can end: their audit channel is told once.
AUDIT_KEYS: dict[Condition, str] = {
    "key_refused": "proxy.audit.key_refused",
    "quota": "proxy.audit.quota",
}
_LOG_ONCE: dict[Condition, str] = {
    "key_refused": (
        "the proxy refuses the bot's API key (HTTP %s): check midjourney.api_key "
        "(MJBOT_MIDJOURNEY__API_KEY) and midjourney.auth_style; running jobs resume by "
        "themselves once the key is accepted"
    ),
    "quota": (
        "the proxy says the account's balance is spent (HTTP %s): top it up at the proxy or "
        "reseller; running jobs resume by themselves"
    ),
}


def refused_condition(outcome: SubmitOutcome) -> Condition | None:
    """What a submit's refusal says about the service, if anything."""
    if isinstance(outcome, Busy):
        return outcome.kind
    if isinstance(outcome, Rejected) and outcome.http_status in (401, 403):
        return "key_refused"
    if isinstance(outcome, Rejected):
        # A reseller's "quota_not_enough" / "余额不足" with a return code, not a 429: members are
        # told a moderator must top it up, so the moderators are told too.
        reason = reason_key(outcome.description)
        if reason == "quota":
            return "quota"
        if reason == "key_refused":
            return "key_refused"
    return None


def _submit_status(outcome: SubmitOutcome) -> str:
    """How a submit's refusal answered, for the operator's log line ("HTTP %s")."""
    status = getattr(outcome, "http_status", None)
    if status is None and isinstance(outcome, Rejected):
        return f"2xx, code {outcome.code}, on a submit"
    return f"{status}, on a submit"


def condition_of(error: MidjourneyError) -> Condition:
    if isinstance(error, AuthenticationError):
        return "key_refused"
    if isinstance(error, RateLimitError):
        return error.kind
    if isinstance(error, APIConnectionError):
        return "not_answering"  # refused connection, timeout, dropped connection
    return "failing"  # it answered, with a 5xx or a body that is not what it should be


class ProxyHealth:
    """The confirmed condition of the service and of our own storage, and who was told."""

    def __init__(self) -> None:
        self.condition: Condition | None = None
        self.failures = 0
        self.retry_after: float | None = None
        self.storage_failing = False
        self.alert: AlertSink | None = None
        self._latest: Condition | None = None
        self._alerted: set[tuple[Condition, int]] = set()
        self._logged: set[Condition] = set()
        # What the one log line says (a server's own proxy, bot/proxies.py, names its server).
        self.log_templates: dict[Condition, str] = _LOG_ONCE

    @property
    def notice(self) -> str | None:
        """The catalogue key of the line running job messages carry now, if any."""
        if self.storage_failing:
            return STORAGE_NOTICE
        return NOTICE_KEYS[self.condition] if self.condition is not None else None

    def failed(self, error: MidjourneyError) -> bool:
        """A poll cycle failed with `error`; True when the confirmed condition changed."""
        self.failures += 1
        latest = condition_of(error)
        self._latest = latest
        self.retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        confirmed = latest if self.failures >= CONFIRM_AFTER[latest] else self.condition
        if confirmed == self.condition:
            return False
        self.condition = confirmed
        if confirmed is not None:
            self._log_once(confirmed, error, getattr(error, "status_code", "-"))
        return True

    def answered(self) -> bool:
        """A poll cycle the service answered; True when a confirmed condition ended."""
        was = self.condition
        self.failures, self.condition, self._latest, self.retry_after = 0, None, None, None
        self._alerted.clear()
        self._logged.clear()
        if was is not None:
            log.warning("the proxy answers polls again (it was: %s)", was.replace("_", " "))
        return was is not None

    @property
    def slow(self) -> bool:
        """Poll slowly: only a moderator can end this condition."""
        return self.condition in AUDIT_KEYS

    async def tell_moderators(self, guild_ids: Iterable[int | None]) -> None:
        """Post the confirmed condition once to each of these servers' audit channels."""
        if self.condition is not None:
            await self._tell(self.condition, guild_ids)

    async def submit_answered(self, outcome: SubmitOutcome, guild_id: int | None) -> None:
        """A submit's answer: a refused key or a spent balance is told to moderators once (until
        a submit is accepted again)."""
        if isinstance(outcome, Submitted | Queued | NeedsDialog | ExistingTask):
            self._alerted = {(c, g) for c, g in self._alerted if c == self.condition}
            return
        refused = refused_condition(outcome)
        if refused in AUDIT_KEYS:
            assert refused is not None
            self._log_once(refused, None, _submit_status(outcome))
            await self._tell(refused, [guild_id])

    async def _tell(self, condition: Condition, guild_ids: Iterable[int | None]) -> None:
        key = AUDIT_KEYS.get(condition)
        if key is None or self.alert is None:
            return
        for guild_id in sorted({g for g in guild_ids if g is not None}):
            if (condition, guild_id) in self._alerted:
                continue
            self._alerted.add((condition, guild_id))
            try:
                await self.alert(guild_id, key)
            except Exception:
                log.warning("could not tell guild %s about %s", guild_id, condition, exc_info=True)

    def _log_once(
        self, condition: Condition, error: MidjourneyError | None, status: object
    ) -> None:
        template = self.log_templates.get(condition)
        if template is None:
            log.warning("the proxy fails polls: %s (%s)", condition.replace("_", " "), error)
            return
        if condition in self._logged:
            return
        self._logged.add(condition)
        log.error(template, status)
