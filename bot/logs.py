"""Logging set-up: one line (or one JSON object) per event, UTC times, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "[redacted]"
# Headers that carry credentials, whatever value they hold.
_HEADER_PATTERN = re.compile(
    r"(?i)((?:authorization|mj-api-secret)['\"]?\s*[:=]\s*['\"]?)(?:(?:Bot|Bearer)\s+)?[^\s'\",}]+"
)


class RedactingFilter(logging.Filter):
    """Replaces secrets in the final message text (and in formatted tracebacks)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4 and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _HEADER_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# Discord's answers for a channel or message that no longer exists: expected (a member deleted
# it), not a bug, so one WARNING line without a traceback.
GONE_CODES = {10003: "the channel no longer exists", 10008: "the message no longer exists"}
# discord.py's start-up notes about voice, which this bot never uses.
_VOICE_NOTES = ("voice will NOT be supported",)


def _gone(exc: BaseException | None) -> tuple[int, str] | None:
    """(code, meaning) when `exc`, or what it wraps, is Discord's 10003/10008 answer."""
    seen = 0
    while exc is not None and seen < 5:
        code = getattr(exc, "code", None)
        if isinstance(code, int) and code in GONE_CODES and getattr(exc, "status", None) == 404:
            return code, GONE_CODES[code]
        exc = getattr(exc, "original", None) or exc.__cause__
        seen += 1
    return None


class ExpectedAnswersFilter(logging.Filter):
    """Drops discord.py's voice notes; turns 10003/10008 tracebacks into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("discord") and any(
            note in str(record.msg) for note in _VOICE_NOTES
        ):
            return False
        if record.exc_info and record.levelno >= logging.WARNING:
            gone = _gone(record.exc_info[1])
            if gone is not None:
                code, meaning = gone
                record.msg = f"{record.getMessage()}: Discord answered {code} ({meaning})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
                record.levelno = logging.WARNING
                record.levelname = "WARNING"
        return True


def _utc(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with its offset, e.g. 2026-01-02T03:04:05.678+00:00 (quotas reset at
    UTC midnight, so log times are UTC too)."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and, if any, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", secrets: Iterable[str] = (), *, json_lines: bool = False
) -> RedactingFilter:
    """Send log records to stderr, one line each, through a redacting filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    redactor = RedactingFilter(secrets)
    handler.addFilter(ExpectedAnswersFilter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("discord").setLevel(max(root.level, logging.INFO))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    return redactor
