"""The simulator itself: job life cycle on the manual clock, buttons, validation, quirks, hooks."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image

from bot.midjourney.simulator import ManualClock, Simulator, run_simulator
from tests.bot.midjourney.conftest import KEY, MakeSim

PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
HEADERS = {"plus": {"mj-api-secret": KEY}, "trueai": {"Authorization": KEY}}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


class Api:
    """Raw JSON calls to a simulator, to see exactly what it sends."""

    def __init__(self, sim: Simulator, http: httpx.AsyncClient) -> None:
        self.sim, self.http = sim, http
        self.headers = HEADERS.get(sim.mode, {"Authorization": f"Bearer {KEY}"})

    async def post(self, path: str, body: Any) -> httpx.Response:
        url = f"{self.sim.base_url}{self.sim.prefix}/{path}"
        return await self.http.post(url, json=body, headers=self.headers)

    async def task(self, task_id: str) -> dict[str, Any]:
        url = f"{self.sim.base_url}{self.sim.prefix}/task/{task_id}/fetch"
        response = await self.http.get(url, headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def done(self, path: str, body: Any) -> dict[str, Any]:
        answer = (await self.post(path, body)).json()
        assert answer["code"] == 1, answer
        self.sim.finish(str(answer["result"]))
        return await self.task(str(answer["result"]))


def _ids(task: dict[str, Any]) -> list[str]:
    h = task["properties"]["messageHash"]
    return [b["customId"].replace(h, "<h>") for b in task["buttons"]]


async def test_a_job_runs_on_the_clock_and_ends_with_a_png(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = await make_sim("plus", seconds_per_job=10)
    api = Api(sim, http)
    task_id = (await api.post("submit/imagine", {"prompt": "a fox --ar 2:1"})).json()["result"]
    first = await api.task(task_id)
    assert (first["status"], first["progress"], first["imageUrl"]) == ("SUBMITTED", "0%", None)
    sim.advance(3.5)
    running = await api.task(task_id)
    assert (running["status"], running["progress"]) == ("IN_PROGRESS", "35%")
    preview = await http.get(running["imageUrl"])
    assert preview.headers["content-type"] == "image/png"
    sim.advance(7)
    done = await api.task(task_id)
    assert (done["status"], done["progress"]) == ("SUCCESS", "100%")
    assert done["finishTime"] >= done["startTime"] >= done["submitTime"]
    image = Image.open(io.BytesIO((await http.get(done["imageUrl"])).content))
    assert image.format == "PNG" and image.size == (768, 384)


async def test_jobs_beyond_capacity_wait_in_order(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = await make_sim("plus", seconds_per_job=10, max_concurrent=1, queue_limit=1)
    api = Api(sim, http)
    first = (await api.post("submit/imagine", {"prompt": "one"})).json()
    second = (await api.post("submit/imagine", {"prompt": "two"})).json()
    third = (await api.post("submit/imagine", {"prompt": "three"})).json()
    assert (first["code"], second["code"], third["code"]) == (1, 22, 23)
    assert second["properties"]["numberOfQueues"] == 1
    assert (await api.task(second["result"]))["status"] == "NOT_START"
    sim.advance(10)
    assert (await api.task(first["result"]))["status"] == "SUCCESS"
    assert (await api.task(second["result"]))["status"] == "SUBMITTED"


async def test_buttons_match_midjourney_per_kind(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = await make_sim("plus")
    api = Api(sim, http)
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    assert _ids(grid) == [
        *(f"MJ::JOB::upsample::{i}::<h>" for i in range(1, 5)),
        "MJ::JOB::reroll::0::<h>::SOLO",
        *(f"MJ::JOB::variation::{i}::<h>" for i in range(1, 5)),
    ]
    assert [b["label"] for b in grid["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    body = {"taskId": grid["id"], "customId": grid["buttons"][2]["customId"]}
    upscale = await api.done("submit/action", body)
    assert upscale["action"] == "UPSCALE"
    assert _ids(upscale) == [
        "MJ::JOB::upsample_v6r1_2x_subtle::1::<h>::SOLO",
        "MJ::JOB::upsample_v6r1_2x_creative::1::<h>::SOLO",
        "MJ::JOB::low_variation::1::<h>::SOLO",
        "MJ::JOB::high_variation::1::<h>::SOLO",
        "MJ::Inpaint::1::<h>::SOLO",
        "MJ::Outpaint::50::1::<h>::SOLO",
        "MJ::Outpaint::75::1::<h>::SOLO",
        "MJ::CustomZoom::<h>",
        "MJ::JOB::pan_left::1::<h>::SOLO",
        "MJ::JOB::pan_right::1::<h>::SOLO",
        "MJ::JOB::pan_up::1::<h>::SOLO",
        "MJ::JOB::pan_down::1::<h>::SOLO",
        "MJ::JOB::animate_high::1::<h>::SOLO",
        "MJ::JOB::animate_low::1::<h>::SOLO",
        "MJ::BOOKMARK::<h>",
    ]
    image = Image.open(io.BytesIO((await http.get(upscale["imageUrl"])).content))
    assert image.size == (1024, 1024)


async def test_describe_and_shorten_results(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = await make_sim("plus")
    api = Api(sim, http)
    described = await api.done("submit/describe", {"base64": PNG_1PX})
    final = described["properties"]["finalPrompt"]
    assert [line[:3] for line in final.split("\n\n")] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
    assert [b["customId"] for b in described["buttons"]] == [
        "MJ::Job::PicReader::1",
        "MJ::Job::PicReader::2",
        "MJ::Job::PicReader::3",
        "MJ::Job::PicReader::4",
        "MJ::Picread::Retry",
        "MJ::Job::PicReader::all",
    ]
    shortened = await api.done("submit/shorten", {"prompt": "a very detailed fox in deep snow"})
    text = shortened["properties"]["finalPrompt"]
    assert text.startswith("## Important tokens") and "## Shortened prompts" in text
    assert "5️⃣" in text and shortened["imageUrl"] is None
    assert [b["customId"] for b in shortened["buttons"]] == [
        f"MJ::Job::PromptAnalyzer::{i}" for i in range(1, 6)
    ]
    pick = (
        await api.post(
            "submit/action", {"taskId": described["id"], "customId": "MJ::Job::PicReader::2"}
        )
    ).json()
    assert pick["code"] == 21 and pick["properties"]["finalPrompt"] == final.split("\n\n")[1][4:]
    confirmed = (await api.post("submit/modal", {"taskId": pick["result"]})).json()
    assert confirmed["code"] == 1


async def test_actions_are_validated(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = await make_sim("plus")
    api = Api(sim, http)
    running = (await api.post("submit/imagine", {"prompt": "a fox"})).json()["result"]
    answer = await api.post(
        "submit/action", {"taskId": running, "customId": "MJ::JOB::upsample::1::x"}
    )
    assert answer.json()["code"] == 4  # the parent is not finished
    sim.finish(running)
    answer = await api.post(
        "submit/action", {"taskId": running, "customId": "MJ::JOB::upsample::1::x"}
    )
    assert answer.json()["code"] == 4  # not one of its buttons
    answer = await api.post("submit/action", {"taskId": "1", "customId": "MJ::JOB::upsample::1::x"})
    assert answer.json()["code"] == 3
    assert (await api.post("submit/imagine", {"prompt": ""})).json()["code"] == 4
    assert (await api.post("submit/imagine", {"prompt": "x", "base64Array": ["nope"]})).json()[
        "code"
    ] == 4


async def test_new_api_quirks(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = await make_sim("new-api", max_concurrent=1)
    api = Api(sim, http)
    first = (await api.post("submit/imagine", {"prompt": "a", "notifyHook": "http://x/"})).json()
    assert first["properties"] is None or "numberOfQueues" not in first["properties"]
    second = (await api.post("submit/imagine", {"prompt": "b"})).json()
    assert second["code"] == 1 and "排队中" in second["description"]  # 22 rewritten to 1
    assert sim.tasks[first["result"]].notify_hook is None  # new-api strips notifyHook
    missing = await http.get(
        f"{sim.base_url}/mj/task/42/fetch", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert missing.status_code == 400 and missing.json()["description"].startswith("task_no_found")
    sim.finish(first["result"])
    task = await api.task(first["result"])
    assert task["imageUrl"] == f"{sim.base_url}/mj/image/{first['result']}"
    assert set(task["properties"]) == {"finalPrompt", "finalZhPrompt"}
    assert (await http.get(task["imageUrl"])).headers["content-type"] == "image/png"
    sim.fail(second["result"], "upstream says no")
    failed = await api.task(second["result"])
    assert (failed["status"], failed["progress"], failed["failReason"]) == (
        "FAILURE",
        "100%",
        "upstream says no",
    )


async def test_trueai_quirks(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = await make_sim("trueai")
    api = Api(sim, http)
    unknown = await http.get(f"{sim.base_url}/mj/task/42/fetch", headers=api.headers)
    assert unknown.status_code == 204 and unknown.content == b""
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    upscale = await api.done(
        "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]}
    )
    bookmark = next(b["customId"] for b in upscale["buttons"] if "BOOKMARK" in b["customId"])
    answer = (
        await api.post("submit/action", {"taskId": upscale["id"], "customId": bookmark})
    ).json()
    assert (answer["code"], answer["description"]) == (4, "未知的 Action 类型")
    inpaint = next(b["customId"] for b in upscale["buttons"] if "Inpaint" in b["customId"])
    dialog = (
        await api.post("submit/action", {"taskId": upscale["id"], "customId": inpaint})
    ).json()
    assert dialog["code"] == 21 and dialog["description"] == "Waiting for window confirm"
    assert dialog["properties"] == {"finalPrompt": "", "remix": True}
    missing = await api.post("submit/modal", {"taskId": "42", "prompt": "x"})
    assert missing.status_code == 404 and missing.json()["code"] == 3


async def test_faults_are_consumed_and_hangs_released(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = await make_sim("plus")
    api = Api(sim, http)
    sim.inject_fault("submit/imagine", "http500", times=2)
    assert (await api.post("submit/imagine", {"prompt": "x"})).status_code == 500
    assert (await api.post("submit/imagine", {"prompt": "x"})).status_code == 500
    assert (await api.post("submit/imagine", {"prompt": "x"})).status_code == 200
    sim.inject_fault("fetch", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        await http.get(f"{sim.base_url}/mj/task/1/fetch", headers=api.headers, timeout=0.2)
    sim.release_hangs()
    assert (
        await http.get(f"{sim.base_url}/mj/task/1/fetch", headers=api.headers)
    ).status_code == 200
    assert sim.submits == 3 and sim.count("submit/imagine") == 3


async def test_unknown_paths_answer_404_before_auth(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = await make_sim("plus")
    response = await http.get(f"{sim.base_url}/v1/mj/task/1/fetch")
    assert response.status_code == 404
    refused = await http.get(f"{sim.base_url}/mj/task/1/fetch")
    assert refused.status_code == 401 and refused.content == b""


async def test_notify_hook_gets_each_change_and_survives_a_dead_hook(make_sim: MakeSim) -> None:
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sim = await make_sim("plus", seconds_per_job=10, notify_interval=3600)
        async with httpx.AsyncClient(timeout=5) as http:
            api = Api(sim, http)
            body = {"prompt": "a fox", "notifyHook": f"http://127.0.0.1:{port}/hook"}
            task_id = (await api.post("submit/imagine", body)).json()["result"]
            await api.post("submit/imagine", {"prompt": "b", "notifyHook": "http://127.0.0.1:9/x"})
        for step in (5, 6):
            arrived.clear()
            sim.advance(step)
            await asyncio.wait_for(arrived.wait(), 5)
        assert [b["id"] for b in received] == [task_id, task_id]
        assert [(b["status"], b["progress"]) for b in received] == [
            ("IN_PROGRESS", "50%"),
            ("SUCCESS", "100%"),
        ]
        assert len(received[-1]["buttons"]) == 9
    finally:
        await runner.cleanup()


async def test_wrong_clock_is_replaced_by_a_manual_one(make_sim: MakeSim) -> None:
    sim = await make_sim("plus", clock=lambda: 100.0)
    sim.advance(5)
    assert sim.now() == 105.0
    clock = ManualClock(7)
    sim.set_clock(clock)
    clock.advance(1)
    assert sim.now() == 8.0


async def test_run_simulator_serves_until_cancelled() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = asyncio.ensure_future(run_simulator("127.0.0.1", port, mode="plus", prefix="/mj"))
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(200):
            try:
                response = await http.get(f"http://127.0.0.1:{port}/mj/task/1/fetch")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.01)
        assert response.status_code == 200 and response.content == b""
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server


async def test_a_client_gone_mid_request_is_no_server_error(
    make_sim: MakeSim, caplog: pytest.LogCaptureFixture
) -> None:
    """A bot stopping while it sends a poll cuts the request's body short: the simulator lets it
    go without an error traceback (the fake Discord fails a test on any aiohttp.server error)."""
    sim = await make_sim()
    url = httpx.URL(sim.base_url)
    _, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        f"POST {sim.prefix}/task/list-by-condition HTTP/1.1\r\nHost: sim\r\n"
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ids": ['.encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await sim.stop()  # waits for the request's handler to end
    errors = [
        r for r in caplog.records if r.name == "aiohttp.server" and r.levelno >= logging.ERROR
    ]
    assert errors == []
