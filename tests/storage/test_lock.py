"""One process per database: the second is refused; kill -9 leaves nothing to clean up."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage.lock import AlreadyRunningError, InstanceLock

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from storage.lock import InstanceLock
lock = InstanceLock.acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    db = str(tmp_path / "mjbot.sqlite3")
    first = InstanceLock.acquire(db)
    assert first is not None
    with pytest.raises(AlreadyRunningError) as refused:
        InstanceLock.acquire(db)
    assert f"another mjbot (process {os.getpid()}) is already running on the database at {db}" in (
        str(refused.value)
    )
    first.release()
    first.release()  # twice is harmless
    second = InstanceLock.acquire(db)
    assert second is not None
    second.release()


def test_an_in_memory_database_needs_no_lock() -> None:
    assert InstanceLock.acquire(":memory:") is None


async def test_kill_9_leaves_nothing_to_clean_up(tmp_path: Path) -> None:
    db = str(tmp_path / "mjbot.sqlite3")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, db, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), timeout=30) == b"locked\n"
        with pytest.raises(AlreadyRunningError, match=f"process {child.pid}"):
            InstanceLock.acquire(db)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert await asyncio.to_thread(
        os.path.exists, f"{db}.lock"
    )  # the file stays; its lock died with the process
    lock = InstanceLock.acquire(db)
    assert lock is not None
    lock.release()
