"""The proxy's own words end to end: `mock-api --quirks chinese-reasons` refuses and fails in
Chinese; every member reads our sentence in their language (an unknown reason quoted after it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.i18n import t
from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import wait_job_message
from tests.fakes.discord import FakeDiscord, Interaction


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.fixture(params=["plus", "trueai", "new-api"])
async def chinese(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    simulator = Simulator(
        request.param, api_key=KEY, clock=ManualClock(), quirks=["chinese-reasons"]
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


async def imagine(fake: FakeDiscord, prompt: str, locale: str = "en-US") -> Interaction:
    handle = await fake.slash("imagine", {"prompt": prompt}, locale=locale)
    await handle.wait_response()
    return handle


async def refusal(handle: Interaction) -> str:
    original = await handle.wait_original(lambda m: bool(m.get("content")))
    assert handle.ephemeral
    return str(original["content"])


async def test_refusals_in_the_proxys_words_reach_members_in_ours(
    fake_discord: FakeDiscord, chinese: Simulator, mjbot: StartBot
) -> None:
    await mjbot(chinese)
    text = await refusal(await imagine(fake_discord, "a cat quirk:no-account"))
    assert text == t("en", "job.not_started", reason=t("en", "reasons.no_account"))
    assert not has_chinese(text) and "无可用" not in text

    text = await refusal(await imagine(fake_discord, "a cat quirk:no-account", "zh-CN"))
    assert text == t("zh-CN", "job.not_started", reason=t("zh-CN", "reasons.no_account"))

    text = await refusal(await imagine(fake_discord, "a cat quirk:quota"))
    assert "top it up" in text and "quota_not_enough" not in text

    # Words nobody catalogued: quoted, after our own words.
    text = await refusal(await imagine(fake_discord, "a cat quirk:odd-refusal"))
    assert text.startswith(t("en", "job.not_started", reason="the image service gave this reason"))
    assert text.endswith("“渠道 7 状态异常，请联系管理员”")
    assert not [
        m
        for m in fake_discord.messages.values()
        if "quirk:" in m.get("content", "") and not m.get("flags", 0) & 64
    ]


async def test_task_failures_in_the_proxys_words_are_shown_in_ours(
    fake_discord: FakeDiscord, chinese: Simulator, mjbot: StartBot
) -> None:
    await mjbot(chinese)
    cases = {
        "quirk:saturated": t("en", "reasons.upstream_busy"),
        "quirk:timeout": t("en", "reasons.timeout"),
        "quirk:sensitive": t("en", "reasons.banned_prompt"),
        "quirk:odd-failure": t("en", "reasons.unknown", reason="上游返回异常：渠道 7 状态码 520"),
    }
    for trigger, sentence in cases.items():
        await imagine(fake_discord, f"a fox {trigger}")
        message = await wait_job_message(fake_discord, trigger)
        failed = await fake_discord.wait_for(
            lambda m=message: (
                "Failed" in (c := fake_discord.messages[int(m["id"])]["content"]) and c
            )
        )
        assert t("en", "job.status.failure", reason=sentence) in failed
        if trigger != "quirk:odd-failure":
            assert not has_chinese(failed)
    # A Chinese-speaking member reads the same failure in Chinese.
    await imagine(fake_discord, "一只狐狸 quirk:saturated", "zh-CN")
    message = await wait_job_message(fake_discord, "一只狐狸")
    expected = t("zh-CN", "job.status.failure", reason=t("zh-CN", "reasons.upstream_busy"))
    await fake_discord.wait_for(
        lambda: expected in fake_discord.messages[int(message["id"])]["content"]
    )
