"""`mjbot backup`: a consistent copy of the database through SQLite's online backup API, safe
while the bot runs (WAL: the copy reads one snapshot and never blocks the bot's writes)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from storage.db import StorageError
from storage.sqlite import BUSY_TIMEOUT_MS


@dataclass(frozen=True)
class BackupResult:
    target: Path
    size_bytes: int
    jobs: int
    schema_version: int
    seconds: float


def backup_database(source: str | Path, target: str | Path) -> BackupResult:
    """Copy the database at `source` to `target` (a file, or a folder to put a dated file in;
    a `target` string ending with a separator is a folder, made if missing).

    The copy is written next to its target and renamed into place once complete and checked,
    so a target never holds half a backup; it is a self-contained file (no -wal to carry).
    """
    started = time.monotonic()
    source = Path(source)
    # "backups/" names a folder even before it exists (Path() drops the trailing separator).
    folder = isinstance(target, str) and target.endswith(("/", os.sep))
    target = Path(target)
    if not source.is_file():
        raise StorageError(f"there is no database at {source} (check storage.path)")
    if folder:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot make the folder {target}: {exc.strerror or exc}") from exc
    if target.is_dir():
        target = target / time.strftime("mjbot-%Y%m%d-%H%M%S.sqlite3", time.gmtime())
    if target.exists() and target.resolve() == source.resolve():
        raise StorageError("the backup would overwrite the database itself; choose another path")
    partial = target.with_name(target.name + ".partial")
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read the database at {source}: {exc}") from exc
    try:
        src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        dst = sqlite3.connect(partial)
        try:
            # One step: a single read snapshot. Page-by-page steps restart whenever the bot
            # writes in between, which on a busy bot may never finish.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StorageError(f"the copy failed its integrity check: {check}")
            version = _value(dst, "SELECT coalesce(max(version), 0) FROM schema_version")
            jobs = _value(dst, "SELECT count(*) FROM jobs")
        finally:
            dst.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"the backup of {source} failed: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot write the backup {target}: {exc.strerror or exc}") from exc
    finally:
        src.close()
        with contextlib.suppress(OSError):
            partial.unlink()
    return BackupResult(target, target.stat().st_size, jobs, version, time.monotonic() - started)


def _value(conn: sqlite3.Connection, sql: str) -> int:
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError as exc:  # not an mjbot database
        raise StorageError(f"the file is not an mjbot database ({exc})") from exc
    return int(row[0])
