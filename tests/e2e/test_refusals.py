"""Refusals as real proxies answer them, end to end: a refused key, 429s, no batch route."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.midjourney.simulator import ManualClock, Simulator
from bot.midjourney.simulator.quirks import parse_quirks
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import JOB_SECONDS, finish, wait_final, wait_job_message
from tests.e2e.test_admin import admin
from tests.e2e.test_submit_outcomes import imagine, private_answer
from tests.e2e.test_webhook import until
from tests.fakes.discord import FakeDiscord


def audit_lines(fake: FakeDiscord, channel_id: int, text: str) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(channel_id) if text in m["content"]]


async def with_audit_channel(fake: FakeDiscord) -> int:
    logs = fake.guild.channels[1]
    await admin(fake, "auditlog", {"channel": logs.id})
    await fake.wait_for(lambda: audit_lines(fake, logs.id, "audit-log channel"))
    return logs.id


async def test_a_refused_key_on_polls_is_explained_once_and_jobs_resume_by_themselves(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    running = await mjbot()
    logs = await with_audit_channel(fake_discord)
    await imagine(fake_discord, "a key-less garden")
    message = await wait_job_message(fake_discord, "a key-less garden")
    message_id = int(message["id"])

    sim.quirks = parse_quirks("refuse-key-on-polls")  # trueai's 403 "Invalid token."
    shown = await fake_discord.wait_for(
        lambda: (m := fake_discord.messages[message_id])["content"].count("API key") and m,
        timeout=15,
    )
    assert "moderator" in shown["content"] and "not answering" not in shown["content"]
    assert "Invalid token" not in shown["content"]
    line = await fake_discord.wait_for(lambda: audit_lines(fake_discord, logs, "api_key"))
    assert "auth_style" in line[0]["content"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")]
    assert len(errors) == 1 and "midjourney.api_key" in errors[0].getMessage()
    assert "auth_style" in errors[0].getMessage() and KEY not in errors[0].getMessage()
    tracker = running.services.tracker
    assert tracker.next_delay() == 16 * 0.05  # keeps polling, slowly
    polls = tracker.polls
    await until(lambda: tracker.polls >= polls + 2)

    sim.quirks = frozenset()  # the key is fixed at the proxy: no restart
    sim.advance(JOB_SECONDS)
    final = await wait_final(fake_discord, message_id)
    assert "API key" not in final["content"]
    assert len(audit_lines(fake_discord, logs, "api_key")) == 1  # told once
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")]
    assert len(errors) == 1  # logged once


async def test_a_saturated_upstream_is_busy_not_unreachable_and_not_charged(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"daily_quota": 2})
    await imagine(fake_discord, "a running river")
    running = await wait_job_message(fake_discord, "a running river")
    sim.quirks = parse_quirks("saturated-429")
    # On a submit: the service answered, so it is "busy", never "cannot be reached".
    handle = await imagine(fake_discord, "a saturated sea")
    text = await private_answer(handle, "could not start")
    assert "at capacity" in text and "Nothing was charged" in text
    assert "cannot be reached" not in text and "饱和" not in text
    # On polls: the running job says the service is busy, not that it is not answering.
    shown = await fake_discord.wait_for(
        lambda: (m := fake_discord.messages[int(running["id"])])["content"].count("busy") and m,
        timeout=15,  # two refused polls in a row, with the backoff between them, on a busy box
    )
    assert "not answering" not in shown["content"]
    sim.quirks = frozenset()
    await finish(fake_discord, sim, int(running["id"]))
    # The refused job gave its unit back: the two-unit quota still allows a second job.
    await imagine(fake_discord, "a calm sea")
    await wait_job_message(fake_discord, "a calm sea")


async def test_a_spent_balance_tells_members_and_the_moderators_once(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    logs = await with_audit_channel(fake_discord)
    sim.quirks = parse_quirks("quota-429")
    for prompt in ("a costly castle", "another costly castle"):
        handle = await imagine(fake_discord, prompt)
        text = await private_answer(handle, "could not start")
        assert "run out of credit" in text and "cannot be reached" not in text
        await fake_discord.wait_for(lambda p=prompt: audit_lines(fake_discord, logs, p))  # type: ignore[misc]
    assert len(audit_lines(fake_discord, logs, "balance or quota exhausted")) == 1


async def test_a_rate_limited_submit_asks_to_try_again(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    sim.quirks = parse_quirks("rate-limit-429")
    handle = await imagine(fake_discord, "a hurried hare")
    text = await private_answer(handle, "could not start")
    assert "slow down" in text and "cannot be reached" not in text
    assert sim.count("/submit/imagine") == 1  # a submit is never resent


async def test_jobs_finish_when_the_proxy_has_no_batch_route(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    # As `mjbot mock-api --quirks no-batch-route`: list-by-condition answers 500.
    proxy = Simulator(
        "plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10.0, quirks=["no-batch-route"]
    )
    await proxy.start()
    try:
        await mjbot(proxy)
        await imagine(fake_discord, "a lonely lantern")
        message = await wait_job_message(fake_discord, "a lonely lantern")
        final = await finish(fake_discord, proxy, int(message["id"]))
        assert final["attachments"] and "not answering" not in final["content"]
        assert proxy.count("/fetch") >= 1
    finally:
        await proxy.stop()


async def test_a_proxy_answering_with_errors_is_not_called_silent(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    await imagine(fake_discord, "a faulty forge")
    message = await wait_job_message(fake_discord, "a faulty forge")
    sim.inject_fault("/task/list-by-condition", "http500", times=10_000)
    sim.inject_fault("/fetch", "http500", times=10_000)
    shown = await fake_discord.wait_for(
        lambda: (
            (m := fake_discord.messages[int(message["id"])])["content"].count("with errors") and m
        ),
        timeout=15,
    )
    assert "not answering" not in shown["content"]
    sim.clear_faults()
    final = await finish(fake_discord, sim, int(message["id"]))
    assert "with errors" not in final["content"]


async def test_a_spent_balance_in_the_proxys_words_tells_the_moderators_too(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    # A reseller's code-4 "quota_not_enough" (not a 429): the member is told a moderator must top
    # it up, so the moderators must be told as well, and the operator's log say what answered.
    caplog.set_level(logging.INFO)
    await mjbot()
    logs = await with_audit_channel(fake_discord)
    sim.quirks = parse_quirks("chinese-reasons")
    for prompt in ("a cat quirk:quota", "a dog quirk:quota"):
        text = await private_answer(await imagine(fake_discord, prompt), "could not start")
        assert "top it up" in text
        await fake_discord.wait_for(lambda p=prompt: audit_lines(fake_discord, logs, p))  # type: ignore[misc]
    assert len(audit_lines(fake_discord, logs, "balance or quota exhausted")) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")]
    assert [e.getMessage() for e in errors] == [
        "the proxy says the account's balance is spent (HTTP 2xx, code 4, on a submit): top it up "
        "at the proxy or reseller; running jobs resume by themselves"
    ]
