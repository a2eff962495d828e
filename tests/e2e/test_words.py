"""Words that reach members end to end: nobody is pinged by a prompt or a proxy's text, secrets
never show, prompts are shown literally, and forged button ids are refused politely."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import KEY
from tests.e2e.steps import EPHEMERAL, wait_job_message
from tests.e2e.test_admin import admin
from tests.fakes.discord import FakeDiscord, Interaction


async def imagine(fake: FakeDiscord, prompt: str) -> Interaction:
    handle = await fake.slash("imagine", {"prompt": prompt})
    await handle.wait_response()
    return handle


def bot_message_bodies(fake: FakeDiscord, text: str) -> list[dict[str, Any]]:
    """JSON bodies of every job message post and edit the bot made that contain `text`
    (through the channel, or through the interaction that started the job)."""
    return [
        r.json
        for r in fake.requests
        if r.method in ("POST", "PATCH")
        and r.path.startswith(("/channels/", "/webhooks/"))
        and isinstance(r.json, dict)
        and text in str(r.json.get("content", ""))
    ]


async def test_a_mention_in_a_prompt_or_a_failure_pings_nobody_but_the_requester(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    alice, bob = fake_discord.users["alice"], fake_discord.users["bob"]
    await imagine(fake_discord, f"hello <@{bob.id}> and @everyone")
    message = await wait_job_message(fake_discord, "hello")
    [task_id] = list(sim.tasks)
    sim.fail(task_id, f"<@{bob.id}> <@&{fake_discord.guild.id}> @here said no")
    await fake_discord.wait_for(
        lambda: "said no" in fake_discord.messages[int(message["id"])]["content"]
    )
    bodies = bot_message_bodies(fake_discord, "hello")
    assert len(bodies) >= 2  # the post, and the edit that shows the failure
    for body in bodies:
        allowed = body["allowed_mentions"]
        assert allowed["parse"] == []  # no @everyone/@here, no roles, no users by parsing
        assert [int(u) for u in allowed.get("users", [])] == [alice.id]  # the requester at most
        assert not allowed.get("roles")


async def test_a_proxy_error_echoing_the_key_is_redacted(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    logs = fake_discord.guild.channels[1]
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    # A submit refused with the key in its words: the member's private answer...
    sim.inject_reply("/submit/imagine", {"code": 4, "description": f"渠道错误 key={KEY}"})
    handle = await imagine(fake_discord, "a refused castle")
    original = await handle.wait_original(lambda m: "could not start" in m.get("content", ""))
    assert KEY not in original["content"] and "[redacted]" in original["content"]
    assert "the image service gave this reason" in original["content"]
    # ... a task failure in the public job message, and the audit lines of both.
    await imagine(fake_discord, "a failing castle")
    message = await wait_job_message(fake_discord, "a failing castle")
    [task_id] = list(sim.tasks)
    sim.fail(task_id, f"upstream rejected key {KEY.removeprefix('sk-')}")
    failed = await fake_discord.wait_for(
        lambda: "Failed" in (m := fake_discord.messages[int(message["id"])])["content"] and m
    )
    assert "[redacted]" in failed["content"]
    audit = await fake_discord.wait_for(
        lambda: (
            [m for m in fake_discord.channel_messages(logs.id) if "castle" in m["content"]]
            if len([m for m in fake_discord.channel_messages(logs.id) if "castle" in m["content"]])
            == 2
            else None
        )
    )
    seen = [r.json for r in fake_discord.requests if isinstance(r.json, dict)]
    assert not [body for body in seen if KEY.removeprefix("sk-") in str(body)]
    assert all("[redacted]" in m["content"] for m in audit)


async def test_markdown_in_a_prompt_is_shown_literally(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    logs = fake_discord.guild.channels[1]
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    prompt = "[Claim free Nitro](https://evil.example/nitro) **a fox**"
    await imagine(fake_discord, prompt)
    message = await wait_job_message(fake_discord, "Claim free Nitro")
    escaped = "\\[Claim free Nitro](https://evil.example/nitro) \\*\\*a fox\\*\\*"
    assert escaped in message["content"]
    [task_id] = list(sim.tasks)
    sim.fail(task_id, "see [here](https://evil.example/x)")
    line = await fake_discord.wait_for(
        lambda: next(
            (m for m in fake_discord.channel_messages(logs.id) if "Nitro" in m["content"]), None
        )
    )
    assert "\\[Claim free Nitro]" in line["content"] and "\\[here]" in line["content"]


async def test_a_second_masked_link_in_a_prompt_is_escaped_too(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    # The link pattern matched from the first '[' to the last ')', escaping only the first link:
    # the second stayed a live masked link under the bot's name, in the channel and the audit log.
    await mjbot()
    logs = fake_discord.guild.channels[1]
    await admin(fake_discord, "auditlog", {"channel": logs.id})
    prompt = "[a fox](https://ok.example/fox) and [Claim free Nitro](https://evil.example/n) ||x||"
    await imagine(fake_discord, prompt)
    message = await wait_job_message(fake_discord, "Claim free Nitro")
    escaped = (
        "\\[a fox](https://ok.example/fox) and \\[Claim free Nitro](https://evil.example/n) "
        "\\|\\|x\\|\\|"
    )
    assert escaped in message["content"]
    [task_id] = list(sim.tasks)
    sim.finish(task_id)
    line = await fake_discord.wait_for(
        lambda: next(
            (m for m in fake_discord.channel_messages(logs.id) if "Nitro" in m["content"]), None
        )
    )
    assert escaped in line["content"]


async def test_a_forged_job_id_in_a_button_is_refused_without_a_traceback(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, caplog: Any
) -> None:
    await mjbot()
    await imagine(fake_discord, "a fox to forge")
    message = await wait_job_message(fake_discord, "a fox to forge")
    [task_id] = list(sim.tasks)
    sim.finish(task_id)
    done = await fake_discord.wait_for(
        lambda: (m := fake_discord.messages[int(message["id"])]).get("components") and m
    )
    forged = "mj1:b:" + "9" * 90 + ":1"
    stored = fake_discord.store.messages[int(done["id"])]
    stored["components"][0]["components"][0]["custom_id"] = forged
    handle = await fake_discord.click(int(done["id"]), forged)
    await handle.wait_response()
    answer = await handle.wait_original(lambda m: bool(m.get("content")))
    assert answer["flags"] & EPHEMERAL
    assert "no longer knows" in answer["content"]
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_a_prompt_sent_by_dm_is_shown_literally(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    from tests.e2e.steps import click, imagine_grid

    await mjbot()
    alice = fake_discord.users["alice"]
    grid = await imagine_grid(fake_discord, sim, "[free](https://evil.example) lantern")
    handle = await click(fake_discord, grid, "Send to DM")
    await handle.wait_original(lambda m: m.get("content"))
    [dm] = fake_discord.dms(alice)
    assert "\\[free](https://evil.example) lantern" in dm["content"]
