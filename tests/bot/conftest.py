"""Fixtures shared by the tests under tests/bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database
from storage.jobs import JobRepository


@pytest.fixture
async def jobs() -> AsyncIterator[JobRepository]:
    """An empty in-memory database whose clock stands at 1000 (no job is overdue), as jobs."""
    db = await Database.open(":memory:", clock=lambda: 1000.0)
    yield JobRepository(db)
    await db.close()
