"""Secrets never reach the log output, whatever path they take into a record."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFilter

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
