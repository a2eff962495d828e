"""A database that cannot be opened: one sentence that says why, and no thread left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Repositories
from storage.db import Database, StorageError


def _aiosqlite_workers() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if "_connection_worker_thread" in getattr(getattr(t, "_target", None), "__name__", "")
    ]


async def test_a_folder_is_not_a_database_and_leaves_no_worker_thread(tmp_path: Path) -> None:
    before = set(_aiosqlite_workers())
    with pytest.raises(StorageError) as caught:
        await Database.open(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} is a folder, not a database file; set storage.path to a file, "
        f"e.g. {tmp_path / 'mjbot.sqlite3'}"
    )
    # A worker still running when asyncio.run() closes the loop printed "Event loop is closed".
    assert set(_aiosqlite_workers()) <= before


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """Where the test puts a database it then makes unwritable (chattr +i when root, since
    root ignores file modes); writable again afterwards so tmp_path can be removed."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "mjbot.sqlite3"
    yield path
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path), str(folder)], check=False)
    else:
        subprocess.run(["chmod", "u+w", str(path), str(folder)], check=False)


def _make_read_only(path: Path, folder_too: bool) -> None:
    targets = [str(path), str(path.parent)][: 2 if folder_too else 1]
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root ignores file modes and chattr is missing")
        if subprocess.run(["chattr", "+i", *targets], check=False).returncode != 0:
            pytest.skip("this file system does not support chattr +i")
    else:
        subprocess.run(["chmod", "a-w", *targets], check=True)


@pytest.mark.parametrize("folder_too", [True, False])
async def test_a_read_only_database_is_called_read_only(read_only: Path, folder_too: bool) -> None:
    async with await Repositories.open(read_only):
        pass
    _make_read_only(read_only, folder_too)
    try:
        db = await Database.open(read_only)
    except StorageError as exc:
        message = str(exc)
    else:
        await db.close()  # an open database would keep its threads (and pytest) alive
        pytest.fail("a read-only database was opened as if it could be written")
    assert message.startswith(f"the database at {read_only} is read-only: ")
