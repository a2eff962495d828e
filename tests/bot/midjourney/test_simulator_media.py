"""The simulator's media: Animate to MP4 videos, and the media quirks of real proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.media.kinds import sniff_image, sniff_video
from bot.midjourney.models import Task
from tests.bot.midjourney.conftest import MakeSim
from tests.bot.midjourney.test_simulator import Api


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def upscale_of(api: Api) -> dict[str, Any]:
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    return await api.done("submit/action", {"taskId": grid["id"], "customId": _id(grid, "U1")})


def _id(task: dict[str, Any], label: str) -> str:
    return next(b["customId"] for b in task["buttons"] if b["label"] == label)


@pytest.mark.parametrize("mode", ["plus", "trueai"])
async def test_animate_on_an_upscale_gives_four_mp4_videos(
    make_sim: MakeSim, http: httpx.AsyncClient, mode: str
) -> None:
    sim = await make_sim(mode, **({"prefix": "/mj"} if mode == "trueai" else {}))
    api = Api(sim, http)
    upscale = await upscale_of(api)
    body = {"taskId": upscale["id"], "customId": _id(upscale, "Animate (High motion)")}
    video = await api.done("submit/action", body)
    assert video["action"] == "VIDEO"
    task = Task.model_validate(video)
    assert len(task.video_urls) == 4 and task.video_url == task.video_urls[0]
    data = (await http.get(task.video_urls[1])).content
    assert sniff_video(data) == "video/mp4"
    assert sniff_image((await http.get(video["imageUrl"])).content) == "image/png"
    labels = [b["label"] or b["emoji"] for b in video["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "Extend (High motion)", "Extend (Low motion)", "🔄"]
    # A video upscale is one video, which can be extended.
    single = await api.done("submit/action", {"taskId": video["id"], "customId": _id(video, "U3")})
    assert len(Task.model_validate(single).video_urls) == 1
    assert [b["label"] for b in single["buttons"]][:2] == [
        "Extend (High motion)",
        "Extend (Low motion)",
    ]


async def test_video_list_only(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    api = Api(await make_sim("plus", quirks=["video-list-only"]), http)
    upscale = await upscale_of(api)
    body = {"taskId": upscale["id"], "customId": _id(upscale, "Animate (Low motion)")}
    video = await api.done("submit/action", body)
    assert (video["imageUrl"], video["videoUrl"]) == ("", "")
    assert len(video["videoUrls"]) == 4


@pytest.mark.parametrize("mode", ["plus", "trueai"])
async def test_empty_image_url(make_sim: MakeSim, http: httpx.AsyncClient, mode: str) -> None:
    api = Api(await make_sim(mode, quirks=["empty-image-url"]), http)
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    assert grid["imageUrl"] == ""
    [url] = Task.model_validate(grid).image_urls
    assert url.endswith(f"/sim/images/{grid['id']}.png")


async def test_split_images(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    api = Api(await make_sim("plus", quirks=["split-images"]), http)
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    assert grid["imageUrl"] == ""
    urls = grid["imageUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == [f"{grid['id']}-{n}.png" for n in range(1, 5)]
    panels = [(await http.get(url)).content for url in urls]
    assert all(sniff_image(p) == "image/png" for p in panels) and len(set(panels)) == 4


async def test_no_image(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    api = Api(await make_sim("plus", quirks=["no-image"]), http)
    grid = await api.done("submit/imagine", {"prompt": "a fox"})
    assert (grid["imageUrl"], grid["imageUrls"]) == ("", [])


@pytest.mark.parametrize("mode", ["plus", "new-api"])
async def test_localhost_media(make_sim: MakeSim, http: httpx.AsyncClient, mode: str) -> None:
    sim = await make_sim(mode, quirks=["localhost-media"])
    grid = await Api(sim, http).done("submit/imagine", {"prompt": "a fox"})
    assert grid["imageUrl"].startswith("http://localhost:3000/")
    # The path is served at the simulator's real address.
    path = grid["imageUrl"].removeprefix("http://localhost:3000")
    assert sniff_image((await http.get(sim.base_url + path)).content) == "image/png"


async def test_media_redirect_hook(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = await make_sim("plus")
    grid = await Api(sim, http).done("submit/imagine", {"prompt": "a fox"})
    sim.redirect_media("http://10.0.0.1/secret")
    answer = await http.get(grid["imageUrl"], follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (302, "http://10.0.0.1/secret")
