"""Secrets never reach the log output, whatever path they take into a record."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.logs import RedactingFilter, configure_logging

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.0123456789abcdefghijklmnopqrstuvwxyzAB"
KEY = "sk-live-0123456789abcdef"


def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([TOKEN, KEY]))
    logger = logging.getLogger(f"test.redaction.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_secrets_in_messages_args_and_tracebacks_are_redacted() -> None:
    logger, stream = capture()
    logger.info("token is %s", TOKEN)
    logger.warning("headers: %r", {"Authorization": f"Bearer {KEY}"})
    logger.info("raw header mj-api-secret: something-else-secret")
    try:
        raise RuntimeError(f"failed with key {KEY}")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert TOKEN not in output
    assert KEY not in output
    assert "something-else-secret" not in output
    assert output.count("[redacted]") >= 4


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., None]]:
    """configure_logging on the real root logger (stderr captured), restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)

    def configure(**options: Any) -> None:
        configure_logging("INFO", [TOKEN, KEY], **options)

    yield configure
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _gone(code: int) -> discord.NotFound:
    response = SimpleNamespace(status=404, reason="Not Found")
    return discord.NotFound(response, {"code": code, "message": "Unknown Message"})  # type: ignore[arg-type]


def test_text_lines_carry_utc_times_with_their_offset(
    configured: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configured()
    logging.getLogger("bot.tracker").info("job %s ended", 42)
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO bot\.tracker: job 42 ended", line
    ), line


def test_json_lines(configured: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    configured(json_lines=True)
    logging.getLogger("bot.app").info("token %s", TOKEN)
    try:
        raise RuntimeError(f"key {KEY}")
    except RuntimeError:
        logging.getLogger("bot.app").exception("boom")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "token [redacted]" and first["level"] == "INFO"
    assert first["logger"] == "bot.app" and first["time"].endswith("+00:00")
    assert second["message"] == "boom" and "RuntimeError: key [redacted]" in second["exception"]


@pytest.mark.parametrize("code", [10003, 10008])
def test_a_deleted_channel_or_message_is_one_warning_line(
    configured: Callable[..., None], capsys: pytest.CaptureFixture[str], code: int
) -> None:
    configured()
    try:
        raise _gone(code)
    except discord.NotFound:
        logging.getLogger("bot.ui.presenter").exception("could not update the message of job 7")
    [line] = capsys.readouterr().err.splitlines()
    assert " WARNING bot.ui.presenter: could not update the message of job 7: " in line
    assert f"Discord answered {code}" in line


def test_other_discord_errors_keep_their_traceback(
    configured: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configured()
    try:
        raise _gone(10062)  # unknown interaction: not one of the expected answers
    except discord.NotFound:
        logging.getLogger("bot.ui.presenter").exception("boom")
    err = capsys.readouterr().err
    assert " ERROR " in err and "Traceback" in err


def test_discord_voice_notes_are_not_shown(
    configured: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configured()
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = True
    discord.Client(intents=discord.Intents.none())
    assert "voice" not in capsys.readouterr().err
