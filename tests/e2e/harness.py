"""Runs the real mjbot (run_bot) against the fake Discord and the proxy simulator on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import MjBot
from bot.config import (
    DiscordSettings,
    JobsSettings,
    MetricsSettings,
    MidjourneySettings,
    QuotaSettings,
    Settings,
    StorageSettings,
    WebhookSettings,
)
from bot.midjourney.simulator import Simulator
from bot.process import run_bot
from tests.fakes.discord import FakeDiscord

KEY = "sk-e2e-secret-key-0042"
AUTH_STYLE = {"plus": "mj-api-secret", "trueai": "raw", "new-api": "bearer"}


def make_settings(
    fake: FakeDiscord,
    sim: Simulator,
    db_path: Path,
    *,
    quota: dict[str, Any] | None = None,
    jobs: dict[str, Any] | None = None,
    midjourney: dict[str, Any] | None = None,
    webhook: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    storage_url: str = "",
) -> Settings:
    """Settings for one bot against `fake` and `sim`: its database is the SQLite file at
    `db_path`, or `storage_url` when given (a PostgreSQL database)."""
    mj: dict[str, Any] = {
        "base_url": sim.base_url,
        "path_prefix": sim.prefix,
        "api_key": KEY,
        "auth_style": AUTH_STYLE[sim.mode],
        "backend": sim.mode,
        "poll_interval_seconds": 0.05,
    }
    mj.update(midjourney or {})
    return Settings(
        discord=DiscordSettings(
            token=fake.token,  # type: ignore[arg-type]
            api_base_url=fake.api_base_url,
            gateway_url=fake.gateway_url,
            guild_ids=[fake.guild.id],
        ),
        midjourney=MidjourneySettings(**mj),
        storage=StorageSettings(path=str(db_path), url=storage_url),
        jobs=JobsSettings(**{"edit_interval_seconds": 0.0, **(jobs or {})}),
        quota=QuotaSettings(**(quota or {})),
        webhook=WebhookSettings(**(webhook or {})),
        metrics=MetricsSettings(**(metrics or {})),
    )


@dataclass
class RunningBot:
    """One bot process-in-a-task; `stop()` shuts it down like SIGTERM does."""

    settings: Settings
    task: asyncio.Task[int]
    stop_event: asyncio.Event
    bot: MjBot

    async def stop(self) -> int:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, timeout=10)

    @property
    def services(self) -> Any:
        return self.bot.services


async def start_bot(
    fake: FakeDiscord,
    settings: Settings,
    *,
    clock: Callable[[], float] | None = None,
    wait_synced: bool = True,
) -> RunningBot:
    """Run mjbot; `clock` (e.g. the fake's, to share its `advance`) replaces wall time."""
    stop = asyncio.Event()
    created: list[MjBot] = []

    def ready(bot: MjBot) -> None:
        bot.before_identify_hook = _no_identify_delay  # type: ignore[method-assign]
        created.append(bot)

    task = asyncio.create_task(
        run_bot(settings, stop, guild_ready_timeout=0.05, ready=ready, clock=clock or time.time)
    )
    await fake.wait_for(lambda: bool(created) or task.done())
    if task.done():
        raise RuntimeError(f"the bot exited at start-up with {task.result()}")
    bot = created[0]
    await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
    # Commands are synced beside the connection: the fake, unlike Discord after a first start,
    # knows none of them until then.
    if wait_synced:
        await asyncio.wait_for(bot.commands_synced.wait(), timeout=10)
    return RunningBot(settings, task, stop, bot)


async def _no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    return None


@dataclass
class Flow:
    """Helpers shared by the end-to-end tests."""

    fake: FakeDiscord
    sim: Simulator
    running: list[RunningBot] = field(default_factory=list)

    def job_messages(self) -> Iterator[dict[str, Any]]:
        for message in self.fake.messages.values():
            if message.get("author", {}).get("id") == str(self.fake.bot_user.id):
                yield message
