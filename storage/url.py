"""`storage.url`: which engine holds the database, and how to show it without its password.

Accepted: `sqlite:///relative/path`, `sqlite:////absolute/path`, `sqlite:///:memory:`,
`postgresql://user:password@host:port/database` (or `postgres://`, query parameters as libpq's,
passed to asyncpg), and a plain file path (what `storage.path` holds).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from os import PathLike
from urllib.parse import parse_qsl, unquote, urlsplit

from storage.dialect import Dialect

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")
SHAPE = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


_PASSWORD_IN_NETLOC = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_IN_QUERY = re.compile(r"(?i)([?&]password=)[^&\s]*")


class InvalidDatabaseUrl(ValueError):
    """The URL names no database mjbot can open; the message never repeats a password.

    `reason` is the sentence without its subject, for "Setting 'storage.url' ..." messages."""

    def __init__(self, reason: str, sentence: str | None = None) -> None:
        super().__init__(sentence or f"storage.url {reason}")
        self.reason = reason


def redact_url(text: str) -> str:
    """`text` (a URL, valid or not) with any password in it replaced by ***."""
    return _PASSWORD_IN_QUERY.sub(r"\1***", _PASSWORD_IN_NETLOC.sub(r"\1***@", text))


@dataclass(frozen=True)
class DatabaseUrl:
    dialect: Dialect
    target: str  # the SQLite file (or ":memory:"), or the DSN handed to asyncpg
    display: str  # for log lines and errors: never a password
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.display!r})"

    def redact(self, text: str) -> str:
        """`text` with the password (as written, and percent-decoded) replaced by ***."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def is_url(text: str) -> bool:
    return "://" in text and text.split("://", 1)[0].replace("+", "").isalpha()


def parse_database_url(value: str | PathLike[str]) -> DatabaseUrl:
    """Parse a `storage.url` or a file path; raises InvalidDatabaseUrl with one sentence."""
    text = os.fspath(value)
    if not is_url(text):
        if not text.strip():
            raise InvalidDatabaseUrl(f"is empty; use {SHAPE}")
        return DatabaseUrl("sqlite", text, text)
    lowered = text.lower()
    if lowered.startswith(_SQLITE):
        path = text[len(_SQLITE) :]
        if not path:
            raise InvalidDatabaseUrl(f"names no file; use {SHAPE}")
        return DatabaseUrl("sqlite", path, path)
    if lowered.startswith("sqlite:"):
        forms = "sqlite:///relative/path, sqlite:////absolute/path or sqlite:///:memory:"
        raise InvalidDatabaseUrl(
            f"must start with three slashes for SQLite: {forms}",
            f"a SQLite storage.url starts with three slashes: {forms}",
        )
    if lowered.startswith(_POSTGRES):
        return _postgres(text)
    scheme = text.split("://", 1)[0]
    raise InvalidDatabaseUrl(f"must be {SHAPE}, not a {scheme}:// URL")


def _postgres(text: str) -> DatabaseUrl:
    secrets: list[str] = []
    try:
        parts = urlsplit(text)
        password = parts.password
        if password:
            secrets += [password, unquote(password)]
        for name, value in parse_qsl(parts.query):
            if name == "password" and value:
                secrets += [value]
        port = parts.port
        host = parts.hostname or ""
        user = unquote(parts.username or "")
    except ValueError:
        raise InvalidDatabaseUrl(
            f"is not a valid PostgreSQL URL (check its host and port); use {SHAPE}"
        ) from None
    database = unquote(parts.path.lstrip("/"))
    if "/" in database:
        raise InvalidDatabaseUrl(f"names more than one database; use {SHAPE}")
    where = host if ":" not in host else f"[{host}]"
    if port is not None:
        where += f":{port}"
    display = "postgresql://" + (f"{user}@" if user else "") + where + f"/{database}"
    return DatabaseUrl("postgresql", text, display, tuple(s for s in secrets if s))


def describe(value: str | PathLike[str]) -> str:
    """How to show a database location in a log line or an error (no password)."""
    try:
        return parse_database_url(value).display
    except InvalidDatabaseUrl:
        return "the configured database"
