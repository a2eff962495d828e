"""`mjbot backup`: a consistent, self-contained copy of a database that is being written."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import Repositories
from storage.backup import backup_database
from storage.db import StorageError


class Writer:
    """Creates jobs until stopped; `reached(n)` is set once n jobs were written."""

    def __init__(self, repos: Repositories) -> None:
        self.repos = repos
        self.written = 0
        self.stop = asyncio.Event()
        self._milestones: dict[int, asyncio.Event] = {}

    def reached(self, count: int) -> asyncio.Event:
        event = self._milestones.setdefault(count, asyncio.Event())
        if self.written >= count:
            event.set()
        return event

    async def run(self) -> None:
        while not self.stop.is_set():
            await self.repos.jobs.create_submitting(
                guild_id=1, channel_id=2, requester_id=3, kind="imagine", action="imagine",
                prompt="x" * 2000,
            )  # fmt: skip
            self.written += 1
            for count, event in self._milestones.items():
                if self.written >= count:
                    event.set()


async def test_backup_of_a_database_being_written(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "mjbot.sqlite3"
    target = tmp_path / "backups" / "copy.sqlite3"
    target.parent.mkdir()
    async with await Repositories.open(db_path) as repos:
        for _ in range(2000):  # a few MB, so the copy takes a while
            await repos.jobs.create_submitting(
                guild_id=1, channel_id=2, requester_id=3, kind="imagine", action="imagine",
                prompt="y" * 2000,
            )  # fmt: skip
        writer = Writer(repos)
        task = asyncio.create_task(writer.run())
        await writer.reached(20).wait()  # the writer is running
        before = 2000 + writer.written
        result = await asyncio.to_thread(backup_database, db_path, target)
        await writer.reached(writer.written + 20).wait()  # and it goes on writing after the copy
        writer.stop.set()
        await task  # never failed with "database is locked"
        total = await repos.db.fetch_value("SELECT count(*) FROM jobs")
    assert result.target == target and result.schema_version >= 1
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        copied = copy.execute("SELECT count(*) FROM jobs").fetchone()[0]
    assert before <= copied == result.jobs < total
    assert sorted(os.listdir(target.parent)) == ["copy.sqlite3"]  # no -wal, no .partial


async def test_a_folder_gets_a_dated_file(tmp_path: Path) -> None:
    db_path = tmp_path / "mjbot.sqlite3"
    async with await Repositories.open(db_path):
        pass
    result = backup_database(db_path, tmp_path)
    assert result.target.parent == tmp_path and result.target.name.startswith("mjbot-")


def test_no_database_no_backup(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="there is no database at"):
        backup_database(tmp_path / "none.sqlite3", tmp_path / "copy.sqlite3")
    assert not (tmp_path / "none.sqlite3").exists()


async def test_the_database_itself_is_not_a_target(tmp_path: Path) -> None:
    db_path = tmp_path / "mjbot.sqlite3"
    async with await Repositories.open(db_path):
        pass
    with pytest.raises(StorageError, match="overwrite the database itself"):
        backup_database(db_path, db_path)


async def test_a_folder_that_does_not_exist_yet_is_made(tmp_path: Path) -> None:
    # README and docs/operators.md: `mjbot backup backups/` (Docker: /data/backups/). It wrote a
    # file named 'backups', and every later backup replaced it.
    db_path = tmp_path / "mjbot.sqlite3"
    async with await Repositories.open(db_path):
        pass
    result = backup_database(db_path, f"{tmp_path / 'backups'}/")
    assert (tmp_path / "backups").is_dir()
    assert result.target.parent == tmp_path / "backups"
    assert result.target.name.startswith("mjbot-") and result.target.is_file()
