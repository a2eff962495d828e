"""Members' own tools end to end: ✉️ Send to DM, 🗑️, /show, /history (fake Discord + simulator)."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import button, click, imagine_grid, reply_to, wait_final, wait_job_message
from tests.fakes.discord import FakeDiscord


def action_submits(sim: Simulator) -> list[dict[str, Any]]:
    return [r.json for r in sim.requests if r.path.endswith("/submit/action")]


async def answer(fake: FakeDiscord, message: dict[str, Any], name: str, **kwargs: Any) -> str:
    """Click `name` on `message` and return the private answer's text."""
    handle = await click(fake, message, name, **kwargs)
    reply = await handle.wait_original(lambda m: m.get("content"))
    assert handle.ephemeral
    return str(reply["content"])


async def test_send_to_dm_sends_image_and_prompt_or_says_dms_are_closed(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    alice, bob = fake_discord.users["alice"], fake_discord.users["bob"]
    grid = await imagine_grid(fake_discord, sim, "a lantern in fog")
    job_id = button(grid, "U1")["custom_id"].split(":")[2]
    assert button(grid, "Send to DM")["custom_id"] == f"mj1:m:{job_id}"
    assert button(grid, "🗑️")["custom_id"] == f"mj1:x:{job_id}"

    assert "Sent to your direct messages" in await answer(fake_discord, grid, "Send to DM")
    [dm] = fake_discord.dms(alice)
    assert "a lantern in fog" in dm["content"] and f"/{grid['id']}" in dm["content"]
    [image] = dm["attachments"]
    original = grid["attachments"][0]
    assert fake_discord.store.files[int(image["id"])].data == (
        fake_discord.store.files[int(original["id"])].data
    )

    # Only the member who made it can have it sent; nothing is sent to bob.
    refused = await answer(fake_discord, grid, "Send to DM", user=bob)
    assert "Only" in refused and f"<@{alice.id}>" in refused
    assert fake_discord.dms(bob) == []

    fake_discord.close_dms(alice)
    closed = await answer(fake_discord, grid, "Send to DM")
    assert "cannot send you direct messages" in closed
    assert len(fake_discord.dms(alice)) == 1


async def test_delete_by_owner_or_moderator_and_refused_for_another_member(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot(quota={"max_jobs_per_user": 0})
    bob, mod = fake_discord.users["bob"], fake_discord.users["mod"]
    first = await imagine_grid(fake_discord, sim, "the first to go")
    second = await imagine_grid(fake_discord, sim, "the second to go")

    refused = await answer(fake_discord, first, "🗑️", user=bob)
    assert "or a moderator can delete it" in refused
    assert int(first["id"]) in fake_discord.messages

    assert "deleted" in await answer(fake_discord, first, "🗑️")
    assert int(first["id"]) not in fake_discord.messages
    assert "deleted" in await answer(fake_discord, second, "🗑️", user=mod)
    assert int(second["id"]) not in fake_discord.messages

    # The jobs stay (in /history); only their messages are gone.
    jobs = await bot.services.job_repo.recent_jobs(fake_discord.guild.id)
    assert [j.state for j in jobs] == ["success", "success"]
    for job in jobs:
        assert await bot.services.job_repo.messages_for_job(job.id) == []


async def test_member_buttons_with_an_out_of_range_id_are_refused(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a forged button")
    huge = "mj1:x:99999999999999999999"  # past SQLite's integers
    fake_discord.messages[int(grid["id"])]["components"][-1]["components"][1]["custom_id"] = huge
    handle = await fake_discord.click(int(grid["id"]), huge)
    reply = await handle.wait_original(lambda m: m.get("content"))
    assert "not part of that job" in reply["content"]
    assert int(grid["id"]) in fake_discord.messages


async def show(fake: FakeDiscord, job: str, **kwargs: Any) -> str:
    handle = await fake.slash("show", {"job": job}, **kwargs)
    # "Posting it again…" first, while the copy goes up; then the answer replaces it.
    reply = await handle.wait_original(
        lambda m: m.get("content") and "Posting it again" not in m["content"]
    )
    assert handle.ephemeral
    return str(reply["content"])


async def test_show_posts_a_deleted_job_again_with_working_buttons(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot(quota={"max_jobs_per_user": 0})
    grid = await imagine_grid(fake_discord, sim, "a harbour at dawn")
    await imagine_grid(fake_discord, sim, "a quiet meadow")
    [job] = [
        j
        for j in await bot.services.job_repo.recent_jobs(fake_discord.guild.id)
        if "harbour" in j.prompt
    ]

    # Autocomplete: the member's finished jobs, newest first, by prompt and time.
    handle = await fake_discord.autocomplete("show", "job", {"job": ""})
    choices = (await handle.wait_response())["data"]["choices"]
    assert [c["name"].split(" · ")[1] for c in choices] == ["a quiet meadow", "a harbour at dawn"]
    assert choices[1]["value"] == str(job.id) and "UTC" in choices[1]["name"]
    handle = await fake_discord.autocomplete("show", "job", {"job": "HARB"})
    assert [c["value"] for c in (await handle.wait_response())["data"]["choices"]] == [str(job.id)]
    handle = await fake_discord.autocomplete(
        "show", "job", {"job": ""}, user=fake_discord.users["bob"]
    )
    assert (await handle.wait_response())["data"]["choices"] == []

    # A moderator deleted the message (and with it Discord's copy of the image).
    await fake_discord.store.delete(int(grid["id"]))
    said = await show(fake_discord, str(job.id))
    assert "Shown again here" in said and "uploaded again from the image service" in said
    shown = await wait_job_message(fake_discord, "a harbour at dawn", after=int(grid["id"]))
    shown = await wait_final(fake_discord, int(shown["id"]))
    assert f"/{shown['id']}" in said
    # Posted as a followup of the /show interaction (its own rate-limit bucket), not through
    # the channel's shared one.
    assert shown["webhook_id"] == str(fake_discord.application_id)
    assert fake_discord.store.files[int(shown["attachments"][0]["id"])].data.startswith(b"\x89PNG")
    assert "Send to DM" in [
        c.get("label") for row in shown["components"] for c in row["components"]
    ]

    # Its buttons work, and a click submits once.
    before = len(action_submits(sim))
    await click(fake_discord, shown, "U2")
    child = await reply_to(fake_discord, int(shown["id"]))
    assert len(action_submits(sim)) == before + 1
    assert action_submits(sim)[-1]["taskId"] == job.task_id
    assert "a harbour at dawn" in child["content"]

    # Somebody else's job is not theirs to show.
    refused = await show(fake_discord, str(job.id), user=fake_discord.users["bob"])
    assert "no job like that" in refused


async def test_show_says_so_when_the_image_is_gone_everywhere(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    bot = await mjbot()
    grid = await imagine_grid(fake_discord, sim, "a vanished print")
    [job] = await bot.services.job_repo.recent_jobs(fake_discord.guild.id)
    await fake_discord.store.delete(int(grid["id"]))
    sim.tasks.pop(str(job.task_id))  # the proxy forgot the task and its image
    said = await show(fake_discord, f"#{job.id}")
    assert "no longer available" in said
    shown = await wait_job_message(fake_discord, "a vanished print", after=int(grid["id"]))
    assert shown["attachments"] == [] and "no longer available" in shown["content"]
    assert "U1" in [c.get("label") for row in shown["components"] for c in row["components"]]


async def test_history_pages_through_the_members_jobs_privately(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"max_jobs_per_user": 0, "max_jobs_per_guild": 0})
    for n in range(12):
        handle = await fake_discord.slash("imagine", {"prompt": f"lighthouse number {n}"})
        await handle.wait_original(lambda m: "started" in m.get("content", ""))
    bobs = await fake_discord.slash(
        "imagine", {"prompt": "bob's own"}, user=fake_discord.users["bob"]
    )
    await bobs.wait_original(lambda m: "started" in m.get("content", ""))

    handle = await fake_discord.slash("history")
    first = await handle.wait_original(lambda m: "Your jobs" in m.get("content", ""))
    assert handle.ephemeral
    lines = first["content"].splitlines()
    assert "page 1 of 2" in lines[0] and "12 jobs in all" in lines[0]
    assert len(lines) == 11 and "lighthouse number 11" in lines[1] and "number 2`" in lines[10]
    assert (
        "[open](https://discord.com/channels/" in lines[1] and "bob's own" not in first["content"]
    )
    previous, following = [c for row in first["components"] for c in row["components"]]
    assert previous["disabled"] and not following.get("disabled")

    turn = await fake_discord.click(int(first["id"]), following["custom_id"])
    assert (await turn.wait_response())["type"] == 7  # the same private message, next page
    second = fake_discord.messages[int(first["id"])]
    assert "page 2 of 2" in second["content"] and len(second["content"].splitlines()) == 3
    assert "lighthouse number 0" in second["content"]
    previous = next(c for row in second["components"] for c in row["components"])
    turn = await fake_discord.click(int(first["id"]), previous["custom_id"])
    await turn.wait_response()
    assert "page 1 of 2" in fake_discord.messages[int(first["id"])]["content"]

    handle = await fake_discord.slash("history", {"page": 2}, locale="zh-CN")
    chinese = await handle.wait_original(lambda m: "你的任务" in m.get("content", ""))
    assert "第 2 页，共 2 页" in chinese["content"] and "共 12 个任务" in chinese["content"]

    handle = await fake_discord.slash("history", user=fake_discord.users["mod"])
    empty = await handle.wait_original(lambda m: m.get("content"))
    assert "no jobs in this server yet" in empty["content"]
