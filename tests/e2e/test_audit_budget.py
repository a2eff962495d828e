"""Audit-log lines share the outbox with job messages: a burst of finished jobs draws no 429."""

from __future__ import annotations

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import JOB_SECONDS, is_public_bot_message
from tests.e2e.test_admin import admin
from tests.fakes.discord import FakeDiscord


async def test_ten_jobs_ending_at_once_are_all_audited_without_a_429(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    # The lines were sent past the outbox: ten at once on a channel whose bucket allows five
    # drew 429s from Discord (discord.py retried them, but a bot that keeps hitting 429s is
    # cut off by Cloudflare).
    await mjbot(quota={"max_jobs_per_user": 0})
    logs = fake_discord.guild.channels[1]
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    count = 10
    for i in range(count):
        handle = await fake_discord.slash("imagine", {"prompt": f"a burst {i}"})
        await handle.wait_response()
    await fake_discord.wait_for(
        lambda: (
            sum(
                1
                for m in fake_discord.messages.values()
                if is_public_bot_message(fake_discord, m) and "a burst" in m.get("content", "")
            )
            >= count
        )
    )
    sim.advance(JOB_SECONDS)  # all ten end in the same poll
    await fake_discord.wait_for(
        lambda: (
            sum(1 for m in fake_discord.channel_messages(logs.id) if "a burst" in m["content"])
            >= count
        ),
        timeout=30,
    )
    assert fake_discord.take_rate_limited() == []
