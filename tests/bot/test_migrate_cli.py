"""`mjbot migrate` as an operator runs it: a subprocess, its table of counts and exit codes, one
sentence for each mistake, never a password or a traceback."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage.lock import InstanceLock
from tests.bot.test_cli import run_cli
from tests.storage.migrate_data import populate


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
    assert lines[14].startswith(
        f"Copied 15 rows of 13 tables from sqlite:///{source.path} to {target} in "
    )
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
        (
            "mysql://root:hunter2-secret@db/mjbot",
            "--to mysql://root:***@db/mjbot is not a database URL mjbot knows: use sqlite:///path "
            "or postgresql://user:password@host/database",
        ),
        ("", "--to is empty: give sqlite:///path or postgresql://..."),
    ],
)
def test_a_url_that_names_no_database_is_refused_in_one_sentence(
    tmp_path: Path, target: str, sentence: str
) -> None:
    source = tmp_path / "old.sqlite3"
    sqlite3.connect(source).close()
    result = run_cli("migrate", "--from", str(source), "--to", target)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"mjbot: migrate: {sentence}"]
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
