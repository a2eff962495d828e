"""A simulated task's media: image and video addresses as each quirk gives them, and the small
MP4 files of video results."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .drawing import render_png
from .tasks import SimTask

if TYPE_CHECKING:
    from .endpoints import ProxyEndpoints

# new-api's ServerAddress when its operator never set one.
DEFAULT_SERVER_ADDRESS = "http://localhost:3000"
VIDEOS_PER_JOB = 4


def media_base(sim: ProxyEndpoints) -> str:
    return DEFAULT_SERVER_ADDRESS if "localhost-media" in sim.quirks else sim.public_base_url


def image_url(sim: ProxyEndpoints, task: SimTask, status: str, pct: int) -> str | None:
    if task.kind == "shorten" or status not in ("IN_PROGRESS", "SUCCESS"):
        return None
    base = media_base(sim)
    if sim.mode == "new-api":
        return f"{base}{sim.prefix}/image/{task.id}"
    if status == "IN_PROGRESS":
        return f"{base}/sim/images/{task.id}-preview.png?p={pct}"
    return f"{base}/sim/images/{task.id}.png"


def _listed(sim: ProxyEndpoints, urls: list[str]) -> list[Any]:
    """trueai lists `{url, thumbnail}` objects, the others plain strings."""
    if sim.mode == "trueai":
        return [{"url": url, "thumbnail": url} for url in urls]
    return list(urls)


def video_urls(sim: ProxyEndpoints, task: SimTask) -> list[str]:
    """One video for a video upscale, four for Animate (one per grid panel)."""
    count = 1 if task.action == "UPSCALE" else VIDEOS_PER_JOB
    return [f"{media_base(sim)}/sim/videos/{task.id}-{n}.mp4" for n in range(1, count + 1)]


def dress_media(
    sim: ProxyEndpoints, body: dict[str, Any], task: SimTask, status: str
) -> dict[str, Any]:
    """Fill the media fields of a task's JSON the way the switched-on quirks say."""
    done = status == "SUCCESS"
    if task.kind == "video":
        urls = video_urls(sim, task) if done else []
        body["videoUrl"] = urls[0] if urls else ""
        body["videoUrls"] = _listed(sim, urls)
        if done and "video-list-only" in sim.quirks:
            body["imageUrl"] = ""
            body["videoUrl"] = ""
        return body
    if not done or task.kind == "describe" or task.kind == "shorten":
        return body
    url = body.get("imageUrl") or ""
    if "no-image" in sim.quirks:
        body["imageUrl"], body["imageUrls"] = "", []
    elif "split-images" in sim.quirks and task.kind == "grid":
        base = media_base(sim)
        panels = [f"{base}/sim/images/{task.id}-{n}.png" for n in range(1, 5)]
        body["imageUrl"], body["imageUrls"] = "", _listed(sim, panels)
    elif "empty-image-url" in sim.quirks:
        body["imageUrl"], body["imageUrls"] = "", _listed(sim, [url])
    return body


def panel_png(task: SimTask, panel: int) -> bytes:
    """Panel `panel` (1-4) of a grid as an image of its own."""
    return render_png(replace(task, kind="upscale", panel=panel))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def render_mp4(task: SimTask, number: int) -> bytes:
    """A small ISO media file: `ftyp`, a one-second movie header, and the still as its data.
    Enough for a client to sniff and upload as MP4 (the simulator has no video encoder)."""
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = (
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 1000)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + identity
        + b"\x00" * 24
        + struct.pack(">I", 2)
    )
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    frame = render_png(replace(task, kind="upscale", panel=number))
    return ftyp + _box(b"moov", _box(b"mvhd", mvhd)) + _box(b"mdat", frame)
