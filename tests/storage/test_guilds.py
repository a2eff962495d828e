"""GuildRepository: settings, allow-lists, quota overrides, bans, banned words, audit."""

from __future__ import annotations

import pytest

from storage import AuditEntry, BanRecord, GuildSettingsRecord, QuotaOverride, Repositories
from tests.storage.support import T0, FakeClock


async def test_untouched_guild_uses_defaults(repos: Repositories) -> None:
    assert await repos.guilds.get(1) == GuildSettingsRecord(1)


async def test_partial_updates_keep_other_fields(repos: Repositories, clock: FakeClock) -> None:
    await repos.guilds.update_settings(1, daily_quota=10, audit_channel_id=555, locale="zh-CN")
    clock.advance(5)
    settings = await repos.guilds.update_settings(
        1, max_jobs_per_user=2, weights={"upscale_hd": 2.0}, allowed_roles=[7, 8, 7]
    )
    assert settings == GuildSettingsRecord(
        guild_id=1,
        audit_channel_id=555,
        locale="zh-CN",
        daily_quota=10.0,
        max_jobs_per_user=2,
        weights={"upscale_hd": 2.0},
        allowed_roles=frozenset({7, 8}),
        updated_at=T0 + 5,
    )
    assert await repos.guilds.get(1) == settings
    reset = await repos.guilds.update_settings(1, daily_quota=None, allowed_roles=[], weights=None)
    assert (reset.daily_quota, reset.allowed_roles, reset.weights) == (None, frozenset(), {})
    assert reset.audit_channel_id == 555
    assert await repos.guilds.get(2) == GuildSettingsRecord(2)


async def test_pause_and_resume(repos: Repositories) -> None:
    assert (await repos.guilds.set_paused(1, True)).paused is True
    assert (await repos.guilds.get(1)).paused is True
    assert (await repos.guilds.set_paused(1, False)).paused is False
    assert (await repos.guilds.get(2)).paused is None


async def test_allowed_channels_and_roles(repos: Repositories) -> None:
    assert await repos.guilds.add_allowed_channel(1, 100) == {100}
    assert await repos.guilds.add_allowed_channel(1, 101) == {100, 101}
    assert await repos.guilds.add_allowed_channel(1, 101) == {100, 101}
    assert await repos.guilds.remove_allowed_channel(1, 100) == {101}
    assert await repos.guilds.add_allowed_role(1, 7) == {7}
    assert await repos.guilds.remove_allowed_role(1, 7) == frozenset()
    settings = await repos.guilds.get(1)
    assert settings.allowed_channels == {101}
    assert settings.allowed_roles == frozenset()
    assert (await repos.guilds.get(2)).allowed_channels == frozenset()


async def test_weights_one_by_one(repos: Repositories) -> None:
    assert await repos.guilds.set_weight(1, "upscale_hd", 2) == {"upscale_hd": 2.0}
    assert await repos.guilds.set_weight(1, "imagine", 1.5) == {"upscale_hd": 2.0, "imagine": 1.5}
    assert await repos.guilds.set_weight(1, "upscale_hd", None) == {"imagine": 1.5}
    assert (await repos.guilds.get(1)).weights == {"imagine": 1.5}


async def test_quota_overrides(repos: Repositories) -> None:
    assert await repos.guilds.get_quota_override(1, 10) is None
    assert await repos.guilds.set_quota_override(1, 10, 50) == QuotaOverride(1, 10, 50.0, T0)
    await repos.guilds.set_quota_override(1, 10, 60)
    await repos.guilds.set_quota_override(1, 11, 0)
    await repos.guilds.set_quota_override(2, 10, 5)
    assert await repos.guilds.get_quota_override(1, 10) == 60.0
    assert [(o.user_id, o.daily_quota) for o in await repos.guilds.list_quota_overrides(1)] == [
        (10, 60.0),
        (11, 0.0),
    ]
    assert await repos.guilds.remove_quota_override(1, 10)
    assert not await repos.guilds.remove_quota_override(1, 10)
    assert await repos.guilds.get_quota_override(1, 10) is None
    assert await repos.guilds.get_quota_override(2, 10) == 5.0


async def test_bans(repos: Repositories, clock: FakeClock) -> None:
    assert await repos.guilds.get_ban(1, 10) is None
    ban = await repos.guilds.add_ban(1, 10, reason="spam", banned_by=99)
    assert ban == BanRecord(1, 10, "spam", 99, T0)
    clock.advance(1)
    await repos.guilds.add_ban(1, 11, reason="", banned_by=99)
    clock.advance(1)
    again = await repos.guilds.add_ban(1, 10, reason="spam again", banned_by=98)
    assert await repos.guilds.get_ban(1, 10) == again
    assert [b.user_id for b in await repos.guilds.list_bans(1)] == [11, 10]
    assert await repos.guilds.get_ban(2, 10) is None
    assert await repos.guilds.remove_ban(1, 10)
    assert not await repos.guilds.remove_ban(1, 10)
    assert await repos.guilds.get_ban(1, 10) is None


async def test_banned_words(repos: Repositories) -> None:
    assert await repos.guilds.add_banned_word(1, "  Gore ")
    assert not await repos.guilds.add_banned_word(1, "gore")
    assert await repos.guilds.add_banned_word(1, "bad   word")
    await repos.guilds.add_banned_word(2, "other")
    assert await repos.guilds.banned_words(1) == ["bad word", "gore"]
    assert await repos.guilds.remove_banned_word(1, "GORE")
    assert not await repos.guilds.remove_banned_word(1, "gore")
    assert await repos.guilds.banned_words(1) == ["bad word"]
    with pytest.raises(ValueError, match="empty"):
        await repos.guilds.add_banned_word(1, "   ")


async def test_audit_log(repos: Repositories, clock: FakeClock) -> None:
    first = await repos.guilds.add_audit(1, 99, "quota.set", "user 10: 50")
    clock.advance(1)
    second = await repos.guilds.add_audit(1, 99, "pause")
    await repos.guilds.add_audit(2, 98, "pause")
    assert first == AuditEntry(first.id, 1, 99, "quota.set", "user 10: 50", T0)
    assert await repos.guilds.audit_entries(1) == [second, first]
    assert await repos.guilds.audit_entries(1, limit=1) == [second]
    assert await repos.guilds.audit_entries(1, before=T0 + 1) == [first]
