"""A populated mjbot database for the `mjbot migrate` tests: a row in every table, written
through the repositories the bot uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage import NewJob, Repositories
from storage.proxies import ProxyRepository
from tests.storage.support import FakeClock

TOKEN = "interaction-token-of-the-first-message"
MESSAGE_ID = 1_180_000_000_000_000_001  # a snowflake: past 32 bits
GUILD = 1_100_000_000_000_000_001
USER = 1_100_000_000_000_000_777


@dataclass(frozen=True)
class Populated:
    path: Path
    parent_id: int
    child_id: int
    purged_id: int  # the highest id ever handed out; its job is gone
    proxy_id: int


async def populate(path: Path, clock: FakeClock | None = None) -> Populated:
    clock = clock or FakeClock()
    async with await Repositories.open(path, clock=clock) as repos:
        proxy = await ProxyRepository(repos.db).add(
            GUILD,
            base_url="https://proxy.example",
            path_prefix="/mj",
            auth_style="bearer",
            backend="plus",
            key_encrypted="gAAAAA-encrypted-key",
            key_hint="k123",
            created_by=USER,
        )
        reserved = await repos.usage.reserve_job(
            NewJob(GUILD, 100, USER, "imagine", "imagine", "a red fox", proxy_id=proxy.id),
            units=1.0,
            user_quota=10.0,
            guild_cap=None,
            since=clock() - 86400,
            max_user_in_flight=None,
            max_guild_in_flight=None,
        )
        parent = reserved.job
        assert parent is not None
        await repos.jobs.mark_submitted(parent.id, "task-1")
        await repos.jobs.complete(
            parent.id,
            state="success",
            image_url="https://cdn.example/1.png",
            buttons=[{"customId": "MJ::JOB::upsample::1::abc", "label": "U1"}],
        )
        await repos.jobs.add_message(
            MESSAGE_ID,
            parent.id,
            100,
            GUILD,
            interaction_token=TOKEN,
            token_expires_at=clock() + 840,
        )
        clock.advance(5)
        child = await repos.jobs.create_submitting(
            guild_id=GUILD,
            channel_id=100,
            requester_id=USER,
            kind="action",
            action="upsample",
            prompt="a red fox",
            parent_job_id=parent.id,
            custom_id="MJ::JOB::upsample::1::abc",
            button_index=0,
        )
        await repos.jobs.record_button_use(parent.id, 0, USER, child.id)
        await repos.usage.charge_if_allowed(
            GUILD,
            USER,
            child.id,
            "upsample",
            0.5,
            user_limit=None,
            guild_cap=None,
            since=clock() - 86400,
            max_user_in_flight=None,
            max_guild_in_flight=None,
        )
        await repos.guilds.update_settings(
            GUILD,
            paused=False,
            daily_quota=25.0,
            allowed_channels=[100, 101],
            weights={"imagine": 1.0, "upsample": 0.5},
        )
        await repos.guilds.set_quota_override(GUILD, USER, 50.0)
        await repos.guilds.add_ban(GUILD, USER + 1, reason="spam", banned_by=USER)
        await repos.guilds.add_banned_word(GUILD, "forbidden")
        await repos.guilds.add_audit(GUILD, USER, "ban", "banned someone")
        await repos.users.set(
            GUILD, USER, version="7", suffix="--q 2", option_sets=(("wide", "--ar 16:9"),)
        )
        last = await repos.jobs.create_submitting(
            guild_id=GUILD,
            channel_id=100,
            requester_id=USER,
            kind="imagine",
            action="imagine",
            prompt="gone",
        )
        await repos.db.execute("DELETE FROM jobs WHERE id = ?", (last.id,))
    return Populated(path, parent.id, child.id, last.id, proxy.id)
