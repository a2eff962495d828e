"""storage.url: the accepted forms, the refused ones, and a display without the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.url import InvalidDatabaseUrl, describe, parse_database_url, redact_url


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("sqlite:///data/mjbot.sqlite3", "data/mjbot.sqlite3"),
        ("sqlite:////var/lib/mjbot/mjbot.sqlite3", "/var/lib/mjbot/mjbot.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
        ("data/mjbot.sqlite3", "data/mjbot.sqlite3"),
        (":memory:", ":memory:"),
    ],
)
def test_sqlite_forms(text: str, target: str) -> None:
    url = parse_database_url(text)
    assert (url.dialect, url.target, url.display) == ("sqlite", target, target)


def test_a_path_object_is_a_sqlite_file(tmp_path: Path) -> None:
    assert parse_database_url(tmp_path / "x.sqlite3").target == str(tmp_path / "x.sqlite3")


@pytest.mark.parametrize(
    ("text", "display"),
    [
        (
            "postgresql://mjbot:s3cret@127.0.0.1:5432/mjbot",
            "postgresql://mjbot@127.0.0.1:5432/mjbot",
        ),
        ("postgres://mjbot:s3cret@db/mjbot?sslmode=require", "postgresql://mjbot@db/mjbot"),
        ("postgresql://mjbot@[::1]:6543/bot", "postgresql://mjbot@[::1]:6543/bot"),
        ("postgresql:///mjbot?host=/run/postgresql", "postgresql:///mjbot"),
    ],
)
def test_postgresql_forms_show_no_password(text: str, display: str) -> None:
    url = parse_database_url(text)
    assert (url.dialect, url.target, url.display) == ("postgresql", text, display)
    assert str(url) == display and "s3cret" not in repr(url)


def test_every_spelling_of_the_password_is_redacted() -> None:
    url = parse_database_url("postgresql://bot:p%40ss%2Fword@h/db?password=other")
    text = "dsn postgresql://bot:p%40ss%2Fword@h/db, password p@ss/word, other one"
    assert url.redact(text) == "dsn postgresql://bot:***@h/db, password ***, *** one"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mysql://root:hunter2@db/mjbot", "not a mysql:// URL"),
        ("sqlite://data/mjbot.sqlite3", "three slashes"),
        ("sqlite:///", "names no file"),
        ("postgresql://bot:hunter2@db:notaport/mjbot", "check its host and port"),
        ("   ", "empty"),
    ],
)
def test_refused_forms_say_why_without_the_password(text: str, words: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as caught:
        parse_database_url(text)
    assert words in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_redact_url_works_on_any_text() -> None:
    assert (
        redact_url("postgresql://bot:hunter2@db:notaport/x") == "postgresql://bot:***@db:notaport/x"
    )
    assert redact_url("postgres://h/x?sslmode=on&password=hunter2") == (
        "postgres://h/x?sslmode=on&password=***"
    )
    assert redact_url("sqlite:///data/x.sqlite3") == "sqlite:///data/x.sqlite3"


def test_describe_never_fails() -> None:
    assert describe("postgresql://a:b@h:1/d") == "postgresql://a@h:1/d"
    assert describe("mysql://x") == "the configured database"
