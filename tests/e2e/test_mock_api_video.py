"""Animate on an upscale leads to a video, against the real `mjbot mock-api` process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.bot.test_cli import Cli
from tests.e2e.harness import KEY, RunningBot, make_settings, start_bot
from tests.e2e.steps import click, reply_to, wait_job_message
from tests.fakes.discord import FakeDiscord

SECONDS = 15.0  # an upper bound on a short real-time job, not a wait


@pytest.fixture
async def mock_api() -> AsyncIterator[SimpleNamespace]:
    process = await Cli.start(
        "mock-api",
        "--port",
        "0",
        "--api-key",
        KEY,
        "--seconds-per-job",
        "0.3",
        "--quirks",
        "video-list-only",
    )
    try:
        match = await process.wait_line(r"serving at (http://127\.0\.0\.1:\d+)(/mj)")
        yield SimpleNamespace(base_url=match.group(1), prefix=match.group(2), mode="plus")
    finally:
        process.kill()
        await process.process.communicate()


async def final(fake: FakeDiscord, message: dict[str, Any]) -> dict[str, Any]:
    return await fake.wait_for(
        lambda: (m := fake.messages[int(message["id"])]).get("attachments") and m, timeout=SECONDS
    )


async def test_animate_leads_to_an_mp4_against_mjbot_mock_api(
    fake_discord: FakeDiscord, mock_api: SimpleNamespace, tmp_path: Path
) -> None:
    # Few progress edits: the fake Discord enforces rate limits and these jobs run in real time.
    settings = make_settings(
        fake_discord,
        mock_api,  # type: ignore[arg-type]
        tmp_path / "mjbot.sqlite3",
        jobs={"edit_interval_seconds": 5.0},
    )
    running: RunningBot = await start_bot(fake_discord, settings)
    try:
        handle = await fake_discord.slash("imagine", {"prompt": "a windmill in a storm"})
        await handle.wait_response()
        grid = await final(fake_discord, await wait_job_message(fake_discord, "a windmill"))
        await click(fake_discord, grid, "U3")
        upscale = await final(fake_discord, await reply_to(fake_discord, int(grid["id"])))
        await click(fake_discord, upscale, "Animate (Low motion)")
        video = await final(fake_discord, await reply_to(fake_discord, int(upscale["id"])))
        [attachment] = video["attachments"]
        assert attachment["filename"].endswith(".mp4")
        assert fake_discord.store.files[int(attachment["id"])].data[4:8] == b"ftyp"
        assert "Extend (High motion)" in str(video["components"])
    finally:
        assert await running.stop() == 0
