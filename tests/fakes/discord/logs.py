"""Collects ERROR log records from discord.py, which logs (not raises) errors in callbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence


class BotError(AssertionError):
    """The bot logged an error (an exception in a command, a view, a modal or the gateway)."""


class ErrorLogCollector(logging.Handler):
    """A handler on the given loggers that keeps every record at ERROR or above."""

    def __init__(self, loggers: Sequence[str], on_error: Callable[[], None]) -> None:
        super().__init__(logging.ERROR)
        self.logger_names = tuple(loggers)
        self.records: list[logging.LogRecord] = []
        self._on_error = on_error
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved_levels: dict[str, int] = {}

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for name in self.logger_names:
            logger = logging.getLogger(name)
            self._saved_levels[name] = logger.level
            # An application may silence the logger; the collector must still see errors.
            if logger.getEffectiveLevel() > logging.ERROR:
                logger.setLevel(logging.ERROR)
            logger.addHandler(self)

    def uninstall(self) -> None:
        for name in self.logger_names:
            logger = logging.getLogger(name)
            logger.removeHandler(self)
            logger.setLevel(self._saved_levels.get(name, logging.NOTSET))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # Records may come from discord.py's heartbeat thread.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._on_error()
        else:
            loop.call_soon_threadsafe(self._on_error)

    def describe(self) -> str:
        formatter = logging.Formatter("%(name)s: %(message)s")
        return "\n".join(formatter.format(r) for r in self.records)

    def take(self) -> list[logging.LogRecord]:
        """Return and forget the records (for tests that provoke an error on purpose)."""
        records, self.records = self.records, []
        return records
