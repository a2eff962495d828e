"""Fixtures for storage tests: a controllable clock and repositories on a file or in memory."""

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


@pytest.fixture(params=["file", "memory"])
async def repos(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[Repositories]:
    path = db_path if request.param == "file" else ":memory:"
    async with await Repositories.open(path, clock=clock) as opened:
        yield opened
