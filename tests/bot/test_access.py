"""Gate and policy: the guild's settings over the configured defaults, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.access import WEIGHT_ACTIONS, Gate, merge_policy, start_of_day
from bot.config import QuotaSettings
from bot.errors import UserFacingError
from bot.midjourney.custom_ids import _WEIGHT_KEYS
from bot.requester import Requester
from storage import Repositories
from storage.guilds import GuildSettingsRecord

DEFAULTS = QuotaSettings(
    daily_quota=25,
    guild_daily_cap=100,
    max_jobs_per_user=3,
    max_jobs_per_guild=20,
    weights={"upscale_hd": 2.0, "imagine": 1.0},
)
GUILD = 1


def test_a_guild_that_changed_nothing_gets_the_defaults() -> None:
    policy = merge_policy(GUILD, GuildSettingsRecord(GUILD), DEFAULTS)
    assert not policy.paused
    assert policy.allowed_channels == frozenset() and policy.allowed_roles == frozenset()
    assert (policy.daily_quota, policy.guild_daily_cap) == (25, 100)
    assert (policy.max_jobs_per_user, policy.max_jobs_per_guild) == (3, 20)
    assert policy.units_for("upscale_hd") == 2.0
    assert policy.units_for("pan") == 1.0  # unweighted actions cost one unit
    assert policy.audit_channel_id is None
    assert merge_policy(GUILD, None, DEFAULTS) == policy


def test_guild_settings_win_field_by_field_and_weights_merge() -> None:
    record = GuildSettingsRecord(
        GUILD,
        paused=True,
        daily_quota=5,
        max_jobs_per_guild=0,
        weights={"upscale_hd": 3.0, "pan": 0.5},
        allowed_channels=frozenset({7}),
        allowed_roles=frozenset({8}),
        audit_channel_id=9,
    )
    policy = merge_policy(GUILD, record, DEFAULTS)
    assert policy.paused
    assert policy.daily_quota == 5 and policy.guild_daily_cap == 100  # unset: default
    assert policy.max_jobs_per_user == 3 and policy.max_jobs_per_guild == 0  # 0 is a value
    assert dict(policy.weights) == {"upscale_hd": 3.0, "pan": 0.5, "imagine": 1.0}
    assert policy.allowed_channels == {7} and policy.allowed_roles == {8}
    assert policy.audit_channel_id == 9


def test_every_weight_key_of_a_button_can_be_weighted() -> None:
    chargeable = set(_WEIGHT_KEYS.values()) - {
        "bookmark",
        "describe_pick",
        "describe_all",
        "shorten_pick",
        "show_details",
        "cancel",
        "unknown",
    }
    assert chargeable <= set(WEIGHT_ACTIONS)
    assert len(WEIGHT_ACTIONS) <= 25  # a Discord option has at most 25 choices


def test_quotas_reset_at_midnight_utc() -> None:
    assert start_of_day(1_700_000_000.0) == 1_699_920_000.0  # 2023-11-14 00:00 UTC


@pytest.fixture
async def gate() -> AsyncIterator[tuple[Gate, Repositories]]:
    async with await Repositories.open(":memory:") as repos:
        yield Gate(repos.guilds, DEFAULTS), repos


def member(**kwargs: object) -> Requester:
    values: dict[str, object] = {"user_id": 10, "channel_id": 100, "guild_id": GUILD}
    values.update(kwargs)
    return Requester(**values)  # type: ignore[arg-type]


async def refused(gate: Gate, who: Requester) -> UserFacingError:
    with pytest.raises(UserFacingError) as caught:
        await gate.admit(who)
    return caught.value


async def test_admit_checks_pause_ban_channel_and_role_in_that_order(
    gate: tuple[Gate, Repositories],
) -> None:
    g, repos = gate
    assert (await g.admit(member())).guild_id == GUILD
    await repos.guilds.add_allowed_channel(GUILD, 200)
    error = await refused(g, member())
    assert error.key == "access.channel" and error.params["channels"] == "<#200>"
    await repos.guilds.add_allowed_role(GUILD, 300)
    assert (await refused(g, member(channel_id=200))).key == "access.role"
    await g.admit(member(channel_id=200, role_ids=frozenset({300})))
    await repos.guilds.add_ban(GUILD, 10, reason="spam", banned_by=1)
    error = await refused(g, member(channel_id=200, role_ids=frozenset({300})))
    assert error.key == "access.banned" and error.params["reason"] == "spam"
    await repos.guilds.set_paused(GUILD, True)
    assert (await refused(g, member())).key == "access.paused"
    assert (await refused(g, member(guild_id=None))).key == "access.guild_only"


async def test_rules_of_one_guild_do_not_touch_another(gate: tuple[Gate, Repositories]) -> None:
    g, repos = gate
    await repos.guilds.set_paused(GUILD, True)
    await repos.guilds.add_ban(GUILD, 10, reason="spam", banned_by=1)
    await repos.guilds.add_banned_word(GUILD, "kraken")
    await g.admit(member(guild_id=2))
    await g.check_words(member(guild_id=2), "a kraken")
    with pytest.raises(UserFacingError) as caught:
        await g.check_words(member(), "a KRAKEN!")
    assert caught.value.params["word"] == "kraken"


async def test_limits_use_the_members_own_quota(gate: tuple[Gate, Repositories]) -> None:
    g, repos = gate
    policy = await g.policy(GUILD)
    assert (await g.limits(member(), policy)).user_quota == 25
    await repos.guilds.set_quota_override(GUILD, 10, 4)
    limits = await g.limits(member(), policy)
    assert (limits.user_quota, limits.guild_cap) == (4, 100)
    assert (limits.max_user_in_flight, limits.max_guild_in_flight) == (3, 20)


async def test_a_ban_reason_is_shown_literally(gate: tuple[Gate, Repositories]) -> None:
    g, repos = gate
    reason = "[appeal here](https://evil.example)\n# NO"
    await repos.guilds.add_ban(GUILD, 10, reason=reason, banned_by=1)
    error = await refused(g, member())
    # One line (no heading), and the masked link's bracket escaped: it shows as plain text.
    assert error.params["reason"] == r"\[appeal here](https://evil.example) # NO"
