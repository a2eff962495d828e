"""What a member sees for each proxy answer: queued, queue full, banned, errors, timeouts."""

from __future__ import annotations

from bot.midjourney.simulator import ManualClock, Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import finish, wait_job_message
from tests.fakes.discord import FakeDiscord, Interaction


async def imagine(fake: FakeDiscord, prompt: str) -> Interaction:
    handle = await fake.slash("imagine", {"prompt": prompt})
    await handle.wait_response()
    return handle


async def private_answer(handle: Interaction, text: str) -> str:
    original = await handle.wait_original(lambda m: text in m.get("content", ""))
    assert handle.ephemeral
    return str(original["content"])


async def test_queued_job_shows_its_position_then_runs(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    busy = Simulator(
        "plus", api_key=KEY, clock=ManualClock(), seconds_per_job=10.0, max_concurrent=1
    )
    await busy.start()
    try:
        await mjbot(busy)
        await imagine(fake_discord, "first job")
        first = await wait_job_message(fake_discord, "first job")
        await imagine(fake_discord, "second job")
        second = await wait_job_message(fake_discord, "second job")
        assert "Queued (1 ahead)" in second["content"]
        await finish(fake_discord, busy, int(first["id"]))
        await finish(fake_discord, busy, int(second["id"]))
    finally:
        await busy.stop()


async def test_queue_full_is_explained_privately(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    full = Simulator(
        "plus",
        api_key=KEY,
        clock=ManualClock(),
        seconds_per_job=10.0,
        max_concurrent=1,
        queue_limit=0,
    )
    await full.start()
    try:
        await mjbot(full)
        await imagine(fake_discord, "takes the only slot")
        await wait_job_message(fake_discord, "takes the only slot")
        handle = await imagine(fake_discord, "one too many")
        text = await private_answer(handle, "could not start")
        assert "queue is full" in text
        assert not [
            m
            for m in fake_discord.messages.values()
            if "one too many" in m.get("content", "") and not m.get("flags", 0) & 64
        ]
    finally:
        await full.stop()


async def test_banned_prompt_names_the_word_and_refunds(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot(quota={"daily_quota": 1})
    handle = await imagine(fake_discord, "a banned-word in a prompt")
    text = await private_answer(handle, "could not start")
    assert "banned-word" in text
    # The refused job gave its unit back: the one-unit quota still allows a job.
    await imagine(fake_discord, "a harmless prompt")
    await wait_job_message(fake_discord, "a harmless prompt")
    del bot


async def test_server_error_after_sending_is_never_resent(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    sim.inject_fault("/submit/imagine", "http500")
    handle = await imagine(fake_discord, "an unlucky prompt")
    text = await private_answer(handle, "could not start")
    assert "may or may not have started" in text
    assert sim.count("/submit/imagine") == 1


async def test_garbage_answer_is_a_clear_message(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    sim.inject_fault("/submit/imagine", "garbage")
    handle = await imagine(fake_discord, "another prompt")
    text = await private_answer(handle, "could not start")
    assert "Traceback" not in text and "{" not in text
    assert sim.count("/submit/imagine") == 1


async def test_unreachable_proxy_is_a_clear_message(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    gone = Simulator("plus", api_key=KEY, clock=ManualClock())
    await gone.start()
    await gone.stop()  # its port now refuses connections
    await mjbot(gone)
    handle = await imagine(fake_discord, "nobody home")
    text = await private_answer(handle, "could not start")
    assert "cannot be reached" in text


async def test_failed_job_shows_the_reason_and_no_buttons(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    await imagine(fake_discord, "a doomed prompt")
    message = await wait_job_message(fake_discord, "a doomed prompt")
    [task_id] = list(sim.tasks)
    sim.fail(task_id, "Job action restricted")
    failed = await fake_discord.wait_for(
        lambda: "Failed" in (m := fake_discord.messages[int(message["id"])])["content"] and m
    )
    assert "Job action restricted" in failed["content"]
    assert not failed.get("components")


async def test_job_past_its_deadline_is_failed_clearly(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    running = await mjbot(midjourney={"job_timeout_minutes": 0.001})
    await imagine(fake_discord, "a very slow prompt")
    message = await wait_job_message(fake_discord, "a very slow prompt")
    failed = await fake_discord.wait_for(
        lambda: "took too long" in (m := fake_discord.messages[int(message["id"])])["content"] and m
    )
    assert not failed.get("components")
    assert not running.services.tracker.followed_task_ids


async def test_a_channel_the_bot_may_not_post_in_still_shows_the_job(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    """The job message is a followup of the interaction, which needs no channel permission."""
    await mjbot()
    fake_discord.inject_error(
        "POST",
        r"^/channels/\d+/messages$",
        status=403,
        body={"code": 50013, "message": "Missing Permissions"},
    )
    handle = await imagine(fake_discord, "a hidden prompt")
    await wait_job_message(fake_discord, "a hidden prompt")
    await handle.wait_original(lambda m: "started" in m.get("content", ""))
    assert not [r for r in fake_discord.requests if r.method == "POST" and "/channels/" in r.path]
    assert sim.count("/submit/imagine") == 1


async def test_a_channel_the_bot_may_not_post_in_is_explained(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    """Without a usable interaction (here: Discord refuses its followup), the job message goes
    to the channel; a channel the bot may not post in is explained."""
    await mjbot()
    fake_discord.inject_error("POST", r"^/webhooks/\d+/[^/]+$", status=401, times=1)
    fake_discord.inject_error(
        "POST",
        r"^/channels/\d+/messages$",
        status=403,
        body={"code": 50013, "message": "Missing Permissions"},
    )
    handle = await imagine(fake_discord, "a hidden prompt")
    text = await private_answer(handle, "may not post")
    assert "Send Messages" in text
    assert sim.count("/submit/imagine") == 1


async def test_a_refused_api_key_is_explained_without_details(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(midjourney={"api_key": "not-the-key"})
    handle = await imagine(fake_discord, "a locked door")
    text = await private_answer(handle, "could not start")
    assert "API key" in text and "moderator" in text
    assert "not-the-key" not in text
