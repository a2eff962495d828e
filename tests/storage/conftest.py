"""Fixtures for storage tests: a controllable clock, and repositories on each engine.

`repos` runs a test on a SQLite file, an in-memory SQLite database and a PostgreSQL database of
its own; `database_url` gives a test the location of a new database on SQLite (a file path) and
on PostgreSQL (a postgresql:// URL). Tests of SQLite's own mechanics (WAL, file permissions,
flock, the backup API) use `db_path` only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Repositories
from tests.storage.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "mjbot.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A new database: a SQLite file path, or the URL of an empty PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(db_path)


@pytest.fixture(params=["sqlite", "sqlite-memory", "postgresql"])
async def repos(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[Repositories]:
    if request.param == "postgresql":
        location: str = request.getfixturevalue("postgres_url")
    else:
        location = str(db_path) if request.param == "sqlite" else ":memory:"
    async with await Repositories.open(location, clock=clock) as opened:
        yield opened
