"""One bot process per database: an OS lock on a file next to it, released when the process
dies (kill -9 included), so there is never a stale lock to clean up."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from storage.db import MEMORY, StorageError


class AlreadyRunningError(StorageError):
    """Another process holds the database's lock."""

    exit_code = 1


class InstanceLock:
    """`fcntl.flock` on `<database>.lock`; the file stays, the lock dies with the process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: str) -> InstanceLock | None:
        """Take the lock of the database at `database` (None for an in-memory database)."""
        if database == MEMORY:
            return None
        path = Path(f"{database}.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise AlreadyRunningError(
                f"another mjbot{who} is already running on the database at {database}: two would "
                "both poll and edit the same jobs. Stop it first, or give this one its own "
                "storage.path."
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {path}: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        """Let another process start; calling it again does nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
