"""`mjbot migrate` as an operator runs it: a subprocess, its table of counts and exit codes, one
sentence for each mistake, never a password or a traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import Database, load_migrations
from storage.lock import InstanceLock
from storage.url import SHAPE
from tests.bot.test_cli import run_cli
from tests.storage.migrate_data import populate
from tests.support.postgres import PASSWORD, PostgresServer


async def test_a_database_moves_and_a_second_run_is_refused(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    target = tmp_path / "new.sqlite3"
    result = run_cli("migrate", "--from", f"sqlite:///{source.path}", "--to", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "source", "target"]
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:14]}
    assert counts["jobs"] == ["2", "2"] and counts["messages"] == ["1", "1"]
    assert len(counts) == 13 and all(a == b for a, b in counts.values())
    assert lines[14].startswith(f"Copied 15 rows of 13 tables from {source.path} to {target} in ")
    assert lines[14].endswith(
        f"s: every count matches, and new jobs start at id {source.purged_id + 1}."
    )
    assert lines[15:] == ["Start the bot with storage.url set to the --to URL."]
    again = run_cli("migrate", "--from", str(source.path), "--to", str(target))
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.splitlines() == [
        "mjbot: migrate: the target already holds data (jobs: 2 rows, usage: 2 rows, "
        "guild_settings: 1 row, and 9 more tables): migrate copies into an empty database; add "
        "--replace to delete what is there and copy again"
    ]
    replaced = run_cli("migrate", "--from", str(source.path), "--to", str(target), "--replace")
    assert replaced.returncode == 0, replaced.stderr


@pytest.mark.parametrize(
    ("target", "sentence"),
    [
        ("mysql://root:hunter2-secret@db/mjbot", f"--to is a mysql:// URL; mjbot knows {SHAPE}"),
        ("", f"--to is empty: give {SHAPE}"),
        ("sqlite://relative.db", "--to: a SQLite URL starts with three slashes: "),
        ("postgresql://mjbot:hunter2-secret@db:port/mjbot", "--to: the URL is not a valid "),
    ],
)
def test_a_url_that_names_no_database_is_refused_in_one_sentence(
    tmp_path: Path, target: str, sentence: str
) -> None:
    source = tmp_path / "old.sqlite3"
    sqlite3.connect(source).close()
    result = run_cli("migrate", "--from", str(source), "--to", target)
    assert (result.returncode, result.stdout) == (2, "")
    [line] = result.stderr.splitlines()  # one sentence, never the password
    assert line.startswith(f"mjbot: migrate: {sentence}")
    assert "hunter2" not in result.stderr


def test_a_file_that_is_not_an_mjbot_database_is_one_sentence(tmp_path: Path) -> None:
    source = tmp_path / "notes.sqlite3"
    with closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    result = run_cli("migrate", "--from", str(source), "--to", str(tmp_path / "new.sqlite3"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mjbot: migrate: the database at {source} cannot be read: it is not an mjbot database "
        "(no schema_version table)"
    ]


async def test_a_running_bot_is_named_and_the_next_steps_said(tmp_path: Path) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    lock = InstanceLock.acquire(str(source.path))  # as `mjbot run` holds it
    assert lock is not None
    try:
        result = run_cli("migrate", "--from", str(source.path), "--to", str(tmp_path / "n.db"))
    finally:
        lock.release()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"A bot (process {os.getpid()}) is still running on the source, so this is a copy of "
        "the moment it started: stop the bot, run this command again with --replace, then "
        "start the bot with storage.url set to the --to URL."
    )


async def test_a_sqlite_database_moves_into_postgresql(tmp_path: Path, postgres_url: str) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    result = run_cli("migrate", "--from", f"sqlite:///{source.path}", "--to", postgres_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "source", "target"]
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:14]}
    assert counts["jobs"] == ["2", "2"] and counts["messages"] == ["1", "1"]
    assert len(counts) == 13 and all(a == b for a, b in counts.values())
    shown = postgres_url.replace(f":{PASSWORD}@", "@")
    assert lines[14].startswith(f"Copied 15 rows of 13 tables from {source.path} to {shown} in ")
    assert lines[14].endswith(
        f"s: every count matches, and new jobs start at id {source.purged_id + 1}."
    )
    assert lines[15:] == ["Start the bot with storage.url set to the --to URL."]
    assert PASSWORD not in result.stdout
    again = run_cli("migrate", "--from", str(source.path), "--to", postgres_url)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        "mjbot: migrate: the target already holds data (jobs: 2 rows, usage: 2 rows, "
        "guild_settings: 1 row, and 9 more tables): migrate copies into an empty database; add "
        "--replace to delete what is there and copy again"
    ]


def test_copying_out_of_postgresql_is_refused(postgres_url: str, tmp_path: Path) -> None:
    result = run_cli("migrate", "--from", postgres_url, "--to", str(tmp_path / "x.sqlite3"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mjbot: migrate: mjbot migrate copies from a SQLite database (--from sqlite:///path); "
        "copying out of PostgreSQL is not supported (between PostgreSQL servers use pg_dump "
        "and pg_restore)"
    ]
    assert PASSWORD not in result.stderr


async def test_a_wrong_password_or_no_server_is_one_sentence_without_the_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = await populate(tmp_path / "old.sqlite3")
    database = postgres_server.new_database()
    wrong = postgres_server.dsn(database, password="not-the-password-5521")
    refused = run_cli("migrate", "--from", str(source.path), "--to", wrong)
    assert (refused.returncode, refused.stdout) == (1, "")
    [line] = refused.stderr.splitlines()
    assert line.startswith(
        "mjbot: migrate: the target cannot be opened: PostgreSQL refused the login to "
        f"postgresql://mjbot@127.0.0.1:{postgres_server.port}/{database} ("
    )
    assert line.endswith("): check the user and password in the --to URL")
    assert "not-the-password-5521" not in refused.stderr
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = f"postgresql://mjbot:{PASSWORD}@127.0.0.1:{port}/mjbot"
    unreachable = run_cli("migrate", "--from", str(source.path), "--to", nobody)
    assert unreachable.returncode == 1
    assert unreachable.stderr.splitlines() == [
        "mjbot: migrate: the target cannot be opened: cannot reach PostgreSQL at "
        f"postgresql://mjbot@127.0.0.1:{port}/mjbot: connection refused (is the server running?)"
    ]
    assert PASSWORD not in unreachable.stderr


async def test_an_older_source_is_said_to_be_brought_up_to_date(tmp_path: Path) -> None:
    source = tmp_path / "old.sqlite3"
    await (await Database.open(source, migrations=load_migrations()[:2])).close()
    target = tmp_path / "new.sqlite3"
    result = run_cli("migrate", "--from", str(source), "--to", str(target))
    assert result.returncode == 0, result.stderr
    latest = len(load_migrations())
    assert f" to {target} (brought from schema 2 to {latest} on the way) in " in result.stdout
    missing = run_cli("migrate", "--from", str(tmp_path / "none.db"), "--to", str(target))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.splitlines() == [
        f"mjbot: migrate: there is no database at {tmp_path / 'none.db'} (--from)"
    ]
