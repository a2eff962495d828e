"""/imagine through the real discord.py client, the fake Discord and the proxy simulator."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.fakes.discord import FakeDiscord


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def labels(message: dict[str, Any]) -> list[str]:
    return [
        (c.get("label") or (c.get("emoji") or {}).get("name") or "")
        for row in message.get("components", [])
        for c in row["components"]
    ]


async def test_imagine_to_final_image(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    handle = await fake_discord.slash("imagine", {"prompt": "a red fox in snow"})
    response = await handle.wait_response()
    assert response["type"] == 5 and handle.ephemeral
    job_message = await fake_discord.wait_message(
        lambda m: "a red fox in snow" in m.get("content", "") and not m.get("flags", 0) & 64
    )
    notice = await handle.wait_original(lambda m: "started" in m.get("content", ""))
    assert str(job_message["id"]) in notice["content"]
    assert sim.count("/submit/imagine") == 1

    sim.advance(5)
    await fake_discord.wait_for(
        lambda: "%" in fake_discord.messages[int(job_message["id"])]["content"]
    )
    sim.advance(10)
    final = await fake_discord.wait_for(
        lambda: (m := fake_discord.messages[int(job_message["id"])]).get("attachments") and m
    )
    assert final["attachments"][0]["filename"].endswith((".png", ".webp", ".jpg"))
    assert labels(final)[:5] == ["U1", "U2", "U3", "U4", "🔄"]
    assert labels(final)[5:9] == ["V1", "V2", "V3", "V4"]
    assert all(cid.startswith("mj1:b:") for cid in custom_ids(final)[:9])
    assert [cid.split(":")[1] for cid in custom_ids(final)[9:]] == ["m", "x"]  # ✉️ and 🗑️
    assert sim.count("/submit/imagine") == 1


async def test_image_larger_than_the_upload_limit_is_reencoded_with_a_link(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    from tests.e2e.steps import finish, wait_job_message

    fake_discord.attachment_size_limit = 8_000  # the simulator's grid PNG is about 20 kB
    await mjbot()
    handle = await fake_discord.slash("imagine", {"prompt": "a detailed city map"})
    await handle.wait_response()
    message = await wait_job_message(fake_discord, "a detailed city map")
    final = await finish(fake_discord, sim, int(message["id"]))
    [attachment] = final["attachments"]
    assert attachment["size"] <= 8_000
    assert "/sim/images/" in final["content"]  # the full-size original stays reachable
