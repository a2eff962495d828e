"""UserSettingsRepository: personal prompt defaults per guild."""

from __future__ import annotations

from storage import Repositories, UserSettingsRecord
from tests.storage.support import T0, FakeClock


async def test_get_set_reset(repos: Repositories, clock: FakeClock) -> None:
    assert await repos.users.get(1, 10) == UserSettingsRecord(1, 10)
    await repos.users.set(1, 10, version="6.1", aspect="16:9")
    clock.advance(1)
    settings = await repos.users.set(1, 10, stylize=250, style_raw=True, speed="relax")
    assert settings == UserSettingsRecord(1, 10, "6.1", "16:9", 250, True, "relax", T0 + 1)
    assert await repos.users.get(1, 10) == settings
    cleared = await repos.users.set(1, 10, aspect=None, style_raw=False)
    assert (cleared.aspect, cleared.style_raw, cleared.version) == (None, False, "6.1")
    assert await repos.users.get(2, 10) == UserSettingsRecord(2, 10)
    assert await repos.users.reset(1, 10)
    assert not await repos.users.reset(1, 10)
    assert await repos.users.get(1, 10) == UserSettingsRecord(1, 10)
