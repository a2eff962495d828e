"""Steps shared by the end-to-end tests: run a job to its image, find and click its buttons."""

from __future__ import annotations

import re
from typing import Any

from bot.midjourney.simulator import Simulator
from tests.fakes.discord import FakeDiscord, Interaction

EPHEMERAL = 64
JOB_SECONDS = 11.0  # a little over the simulator's seconds_per_job in tests/e2e/conftest.py


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row["components"]]


def button_name(component: dict[str, Any]) -> str:
    return str(component.get("label") or (component.get("emoji") or {}).get("name") or "")


def labels(message: dict[str, Any]) -> list[str]:
    return [button_name(c) for c in components(message)]


def button(message: dict[str, Any], name: str) -> dict[str, Any]:
    for component in components(message):
        if button_name(component) == name:
            return component
    raise AssertionError(f"no button {name!r} on the message; it has {labels(message)}")


def is_public_bot_message(fake: FakeDiscord, message: dict[str, Any]) -> bool:
    return (
        message.get("author", {}).get("id") == str(fake.bot_user.id)
        and not message.get("flags", 0) & EPHEMERAL
    )


def parent_of(message: dict[str, Any]) -> int | None:
    """The message a child job's message comes from: the reply it is (a channel message), or the
    parent link on its first line (a followup of the click, which cannot be a reply)."""
    reference = (message.get("message_reference") or {}).get("message_id")
    if reference is not None:
        return int(reference)
    first = message.get("content", "").split("\n", 1)[0]
    found = re.search(r"https://discord\.com/channels/[^/]+/\d+/(\d+)", first)
    return int(found[1]) if found else None


async def wait_job_message(fake: FakeDiscord, text: str, *, after: int = 0) -> dict[str, Any]:
    """The first public job message of the bot that contains `text` (newer than `after`)."""
    return await fake.wait_message(
        lambda m: (
            int(m["id"]) > after and is_public_bot_message(fake, m) and text in m.get("content", "")
        )
    )


async def wait_final(fake: FakeDiscord, message_id: int) -> dict[str, Any]:
    """The job message once it carries its image."""
    return await fake.wait_for(
        lambda: (m := fake.messages[message_id]).get("attachments") and m  # type: ignore[return-value]
    )


async def finish(fake: FakeDiscord, sim: Simulator, message_id: int) -> dict[str, Any]:
    sim.advance(JOB_SECONDS)
    return await wait_final(fake, message_id)


async def imagine_grid(fake: FakeDiscord, sim: Simulator, prompt: str) -> dict[str, Any]:
    """/imagine `prompt` and wait for its finished grid message."""
    handle = await fake.slash("imagine", {"prompt": prompt})
    await handle.wait_response()
    message = await wait_job_message(fake, prompt)
    return await finish(fake, sim, int(message["id"]))


async def click(
    fake: FakeDiscord, message: dict[str, Any], name: str, **kwargs: Any
) -> Interaction:
    current = fake.messages[int(message["id"])]
    handle = await fake.click(int(current["id"]), button(current, name)["custom_id"], **kwargs)
    await handle.wait_response()
    return handle


async def reply_to(fake: FakeDiscord, parent_id: int) -> dict[str, Any]:
    """The job message of a child of the job shown in `parent_id` (see `parent_of`)."""
    return await fake.wait_message(
        lambda m: is_public_bot_message(fake, m) and parent_of(m) == parent_id
    )


async def upscaled(fake: FakeDiscord, sim: Simulator, prompt: str) -> dict[str, Any]:
    """/imagine `prompt`, click U1, and wait for the finished upscale message."""
    grid = await imagine_grid(fake, sim, prompt)
    await click(fake, grid, "U1")
    upscale = await reply_to(fake, int(grid["id"]))
    return await finish(fake, sim, int(upscale["id"]))
