"""notifyHook callbacks: they make the tracker poll early; their bodies are never trusted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import JOB_SECONDS, wait_final, wait_job_message
from tests.fakes.discord import FakeDiscord


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Re-check a condition on state outside the fake Discord (bounded, 10 ms steps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def test_callback_wakes_the_tracker_and_is_not_trusted(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    port = free_port()
    running = await mjbot(
        # Polls only when woken: the job can only finish through a callback.
        midjourney={"poll_interval_seconds": 300},
        webhook={
            "enabled": True,
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
        },
    )
    hooks = running.services.hooks
    handle = await fake_discord.slash("imagine", {"prompt": "a paper boat"})
    await handle.wait_response()
    message = await wait_job_message(fake_discord, "a paper boat")
    [submit] = [r.json for r in sim.requests if r.path.endswith("/submit/imagine")]
    hook_url = str(submit["notifyHook"])
    assert hook_url.startswith(f"http://127.0.0.1:{port}/mjbot/hook/") and len(hook_url) > 50
    [task_id] = list(sim.tasks)

    polls = sim.count("/task/list-by-condition")
    async with httpx.AsyncClient() as client:
        forged = {"id": task_id, "status": "SUCCESS", "imageUrl": "http://127.0.0.1:9/evil.png"}
        assert (await client.post(hook_url, json=forged)).status_code == 204
        await until(lambda: sim.count("/task/list-by-condition") > polls)
        # The body claimed SUCCESS; the proxy says otherwise, so nothing is shown as done.
        assert not fake_discord.messages[int(message["id"])].get("attachments")
        assert (await client.post(hook_url, content=b"x" * 2_000_000)).status_code == 413
        assert (
            await client.post(hook_url.rsplit("/", 1)[0] + "/guess", json=forged)
        ).status_code == 404

    sim.advance(JOB_SECONDS)  # the simulator calls the hook on the change
    final = await wait_final(fake_discord, int(message["id"]))
    assert final["attachments"]
    assert hooks is not None and hooks.received >= 2


async def test_a_flood_of_callbacks_is_merged_into_few_polls(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    port = free_port()
    running = await mjbot(
        midjourney={"poll_interval_seconds": 300},  # only callbacks make it poll
        webhook={
            "enabled": True,
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
        },
    )
    handle = await fake_discord.slash("imagine", {"prompt": "a flooded meadow"})
    await handle.wait_response()
    await wait_job_message(fake_discord, "a flooded meadow")
    [submit] = [r.json for r in sim.requests if r.path.endswith("/submit/imagine")]
    [task_id] = list(sim.tasks)
    loop = asyncio.get_running_loop()
    polls = sim.count("/task/list-by-condition")
    started = loop.time()
    async with httpx.AsyncClient() as client:
        # The plus and trueai proxies call back on every progress change: 300 calls at once.
        for _ in range(300):
            response = await client.post(str(submit["notifyHook"]), json={"id": task_id})
            assert response.status_code == 204
    elapsed = loop.time() - started
    await until(lambda: running.services.hooks.received >= 300)
    # The last callbacks still get their one early poll (at most a second later).
    await until(lambda: sim.count("/task/list-by-condition") > polls)
    made = sim.count("/task/list-by-condition") - polls
    assert 1 <= made <= elapsed / 1.0 + 2, (made, elapsed)
