"""/settings (the defaults panel, proven on the prompt the proxy receives) and /info, end to end."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.test_imagine import custom_ids
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.models import User


def prompts_sent(sim: Simulator) -> list[str]:
    return [r.json["prompt"] for r in sim.requests if r.path.endswith("/submit/imagine")]


def components(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["custom_id"]: c for row in message.get("components", []) for c in row["components"]}


async def imagine(fake: FakeDiscord, prompt: str, user: User | None = None) -> dict[str, Any]:
    handle = await fake.slash("imagine", {"prompt": prompt}, user=user)
    return await handle.wait_original(lambda m: "started" in m.get("content", ""))


async def open_panel(fake: FakeDiscord) -> dict[str, Any]:
    handle = await fake.slash("settings")
    panel = await handle.wait_original(lambda m: m.get("components"))
    assert handle.ephemeral
    return panel


async def choose(fake: FakeDiscord, panel_id: int, custom_id: str, value: str) -> dict[str, Any]:
    handle = await fake.select(panel_id, custom_id, [value])
    assert (await handle.wait_response())["type"] == 7  # the panel itself is updated
    return fake.messages[panel_id]


async def press(fake: FakeDiscord, panel_id: int, custom_id: str) -> dict[str, Any]:
    handle = await fake.click(panel_id, custom_id)
    assert (await handle.wait_response())["type"] == 7
    return fake.messages[panel_id]


async def test_settings_panel_defaults_reach_the_prompt(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"max_jobs_per_user": 0})
    panel = await open_panel(fake_discord)
    panel_id = int(panel["id"])
    assert sorted(custom_ids(panel)) == sorted(
        [
            "mj1:s:version",
            "mj1:s:aspect",
            "mj1:s:stylize",
            "mj1:s:speed",
            "mj1:s:raw",
            "mj1:s:suffix",
            "mj1:s:sets",
            "mj1:s:reset",
        ]
    )
    assert "nothing" in panel["content"]

    panel = await choose(fake_discord, panel_id, "mj1:s:aspect", "16:9")
    assert "`--ar 16:9`" in panel["content"]
    selected = [
        o["value"] for o in components(panel)["mj1:s:aspect"]["options"] if o.get("default")
    ]
    assert selected == ["16:9"]
    await imagine(fake_discord, "a lighthouse at dusk")
    assert prompts_sent(sim)[-1] == "a lighthouse at dusk --ar 16:9"

    await choose(fake_discord, panel_id, "mj1:s:version", "niji 6")
    await choose(fake_discord, panel_id, "mj1:s:stylize", "250")
    await choose(fake_discord, panel_id, "mj1:s:speed", "relax")
    panel = await press(fake_discord, panel_id, "mj1:s:raw")
    assert components(panel)["mj1:s:raw"]["label"] == "Style raw: on"
    assert "`--niji 6 --ar 16:9 --stylize 250 --style raw --relax`" in panel["content"]

    # A parameter the prompt sets itself wins; the member's other defaults still apply.
    await imagine(fake_discord, "a red fox --ar 1:1")
    assert prompts_sent(sim)[-1] == "a red fox --ar 1:1 --niji 6 --stylize 250 --style raw --relax"

    # Defaults are per member: bob's prompt is sent as he typed it.
    await imagine(fake_discord, "a blue whale", user=fake_discord.users["bob"])
    assert prompts_sent(sim)[-1] == "a blue whale"

    # Clearing one value, then resetting all.
    panel = await choose(fake_discord, panel_id, "mj1:s:aspect", "-")
    assert "--ar" not in panel["content"] and "--niji 6" in panel["content"]
    panel = await press(fake_discord, panel_id, "mj1:s:reset")
    assert "removed" in panel["content"] and "nothing" in panel["content"]
    await imagine(fake_discord, "a quiet lake")
    assert prompts_sent(sim)[-1] == "a quiet lake"

    # A new panel shows what is stored.
    await choose(fake_discord, panel_id, "mj1:s:version", "6.1")
    again = await open_panel(fake_discord)
    assert "`--v 6.1`" in again["content"]


async def test_settings_panel_in_chinese(fake_discord: FakeDiscord, mjbot: StartBot) -> None:
    await mjbot()
    handle = await fake_discord.slash("settings", locale="zh-CN")
    panel = await handle.wait_original(lambda m: m.get("components"))
    assert "默认参数" in panel["content"]
    assert components(panel)["mj1:s:reset"]["label"] == "全部重置"


async def test_info_shows_usage_running_jobs_and_finished_ones(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"daily_quota": 10})
    handle = await fake_discord.slash("info")
    empty = await handle.wait_original(lambda m: "Used today" in m.get("content", ""))
    assert handle.ephemeral
    assert "**0** of **10**" in empty["content"] and "No jobs running" in empty["content"]

    await imagine(fake_discord, "a red fox in snow")
    job_message = await fake_discord.wait_message(
        lambda m: (
            "a red fox in snow" in m.get("content", "")
            and "From https://" not in m.get("content", "")
            and not fake_discord.store.meta[int(m["id"])].ephemeral
        )
    )
    link = f"/{fake_discord.channel.id}/{job_message['id']})"
    handle = await fake_discord.slash("info")
    running = await handle.wait_original(lambda m: "Used today" in m.get("content", ""))
    assert "**1** of **10**" in running["content"]
    assert "**Running** (1 of at most 3 at a time)" in running["content"]
    assert link in running["content"] and "a red fox in snow" in running["content"]
    assert "Nothing finished yet" in running["content"]

    sim.advance(15)
    await fake_discord.wait_for(
        lambda: fake_discord.messages[int(job_message["id"])].get("attachments")
    )
    handle = await fake_discord.slash("info")
    done = await handle.wait_original(lambda m: "Used today" in m.get("content", ""))
    assert "No jobs running" in done["content"]
    recent = done["content"].split("Recently finished")[1]
    assert "✅" in recent and link in recent

    # Another member sees only their own jobs.
    handle = await fake_discord.slash("info", user=fake_discord.users["bob"])
    bobs = await handle.wait_original(lambda m: "Used today" in m.get("content", ""))
    assert "**0** of **10**" in bobs["content"] and link not in bobs["content"]


async def test_info_unlimited_quota(fake_discord: FakeDiscord, mjbot: StartBot) -> None:
    await mjbot(quota={"daily_quota": 0, "max_jobs_per_user": 0})
    handle = await fake_discord.slash("info")
    reply = await handle.wait_original(lambda m: "Used today" in m.get("content", ""))
    assert "no daily limit" in reply["content"]
