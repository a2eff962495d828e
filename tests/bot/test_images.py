"""Image sniffing, limited downloads from a real loopback server, fitting to size, region masks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from PIL import Image

from bot.images import (
    MAX_REDIRECTS,
    REGION_PRESETS,
    DownloadedImage,
    ImageError,
    download_image,
    fit_to_size,
    fit_to_size_async,
    mask_data_url,
    region_mask,
    sniff_image,
    to_data_url,
)


def encode(fmt: str, size: tuple[int, int] = (8, 8), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red").save(buffer, fmt)
    return buffer.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


PNG = encode("PNG")


# ---- sniffing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_sniff_real_images(fmt: str, mime: str) -> None:
    assert sniff_image(encode(fmt)) == mime


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PN",
        b"%PDF-1.7\n...",
        b"<html><body>not an image</body></html>",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"RIFF\x00",
        b"hello.png",
        b"GIF88a",
    ],
)
def test_sniff_rejects_what_is_not_an_image(data: bytes) -> None:
    assert sniff_image(data) is None


def test_to_data_url() -> None:
    url = to_data_url(b"\x00\x01abc", "image/png")
    assert url == "data:image/png;base64," + base64.b64encode(b"\x00\x01abc").decode()


# ---- download ----------------------------------------------------------------------------

LIMIT = 64 * 1024
CHUNK = 16 * 1024


@dataclass
class Server:
    base: str
    requests: list[str] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    aborted: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="")

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    async def png(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def declared_big(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * LIMIT, content_type="image/png")

    async def streamed_big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            # Far more than the limit: the client must stop reading on its own.
            for _ in range(1000):
                await response.write(b"\x89PNG\r\n\x1a\n" + b"\0" * CHUNK)
                await asyncio.sleep(0)
        except (ConnectionResetError, ConnectionError):
            state.aborted.set()
        return response

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(PNG[:10])
        state.slow_started.set()
        await state.release.wait()
        with contextlib.suppress(ConnectionError):
            await response.write(PNG[10:])
        return response

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    async def lying(request: web.Request) -> web.Response:
        # Says PNG, named .png, but is a PDF: only the content counts.
        return web.Response(body=b"%PDF-1.4 fake", content_type="image/png")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="gone")

    def redirect_to(location: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": location})

        return handler

    async def loop(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "0"))
        return web.Response(status=302, headers={"Location": f"/loop?n={n + 1}"})

    app = web.Application(middlewares=[record])
    app.router.add_get("/image.png", png)
    app.router.add_get("/declared-big.png", declared_big)
    app.router.add_get("/streamed-big.png", streamed_big)
    app.router.add_get("/slow.png", slow)
    app.router.add_get("/text.png", text)
    app.router.add_get("/lying.png", lying)
    app.router.add_get("/missing.png", missing)
    app.router.add_get("/to-ftp", redirect_to("ftp://127.0.0.1/image.png"))
    app.router.add_get("/to-file", redirect_to("file:///etc/passwd"))
    app.router.add_get("/to-image", redirect_to("/image.png"))
    app.router.add_get("/to-garbage", redirect_to("http://[::1"))
    app.router.add_get("/loop", loop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as http:
        yield http


async def download(client: httpx.AsyncClient, url: str, seconds: float = 30.0) -> DownloadedImage:
    return await download_image(client, url, max_bytes=LIMIT, timeout=seconds)


async def test_download_image(server: Server, client: httpx.AsyncClient) -> None:
    image = await download(client, f"{server.base}/image.png")
    assert image == DownloadedImage(PNG, "image/png", f"{server.base}/image.png")


async def test_declared_oversized_body(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/declared-big.png")
    assert info.value.key == "image.too_large"
    assert info.value.params == {"limit_bytes": LIMIT}


async def test_streamed_oversized_body_is_cut_off(
    server: Server, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/streamed-big.png")
    assert info.value.key == "image.too_large"
    # The server notices the client went away instead of sending all 16 MiB.
    await asyncio.wait_for(server.aborted.wait(), 30)


async def test_slow_body_hits_the_total_time_limit(
    server: Server, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/slow.png", seconds=0.5)
    # The body had started: the limit covers the whole download, not just the connection.
    await asyncio.wait_for(server.slow_started.wait(), 30)
    assert info.value.key == "image.timeout"
    assert info.value.params == {"seconds": 0.5}


@pytest.mark.parametrize("path", ["/text.png", "/lying.png"])
async def test_content_that_is_not_an_image(
    server: Server, client: httpx.AsyncClient, path: str
) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, server.base + path)
    assert info.value.key == "image.not_an_image"


async def test_http_error_status(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/missing.png")
    assert (info.value.key, info.value.params) == ("image.http_status", {"status": 404})


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/image.png",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "/image.png",
        "http:///image.png",
        "",
        "http://[::1",
    ],
)
async def test_only_http_urls(server: Server, client: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, url)
    assert info.value.key == "image.bad_url"
    assert server.requests == []


@pytest.mark.parametrize("path", ["/to-ftp", "/to-file"])
async def test_redirect_to_other_schemes_refused(
    server: Server, client: httpx.AsyncClient, path: str
) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, server.base + path)
    assert info.value.key == "image.bad_url"
    assert server.requests == [path]


async def test_redirect_to_an_invalid_url(server: Server, client: httpx.AsyncClient) -> None:
    # httpx itself rejects the Location while building the next request.
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/to-garbage")
    assert info.value.key in ("image.bad_url", "image.download_failed")
    assert server.requests == ["/to-garbage"]


async def test_redirect_followed(server: Server, client: httpx.AsyncClient) -> None:
    image = await download(client, f"{server.base}/to-image")
    assert image.url == f"{server.base}/image.png"
    assert image.data == PNG
    assert server.requests == ["/to-image", "/image.png"]


async def test_redirect_loop(server: Server, client: httpx.AsyncClient) -> None:
    with pytest.raises(ImageError) as info:
        await download(client, f"{server.base}/loop")
    assert info.value.key == "image.redirects"
    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    # Bind a port, then close it, so nothing listens there.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(ImageError) as info:
        await download(client, f"http://127.0.0.1:{port}/image.png")
    assert info.value.key == "image.download_failed"


# ---- fit to size -------------------------------------------------------------------------


def test_small_enough_is_returned_as_is() -> None:
    assert fit_to_size(PNG, "image/png", len(PNG)) == (PNG, "image/png", "png")
    jpeg = encode("JPEG")
    assert fit_to_size(jpeg, "image/jpeg", 10**6) == (jpeg, "image/jpeg", "jpg")


def test_extension_follows_the_content_not_the_claimed_mime() -> None:
    webp = encode("WEBP")
    assert fit_to_size(webp, "image/png", 10**6)[2] == "webp"


def test_reencoded_to_fit() -> None:
    big = png_of(noise((400, 300)))
    limit = len(big) // 4
    data, mime, ext = fit_to_size(big, "image/png", limit)
    assert len(data) <= limit
    assert (mime, ext, sniff_image(data)) == ("image/webp", "webp", "image/webp")
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (400, 300)


def test_downscaled_when_quality_is_not_enough() -> None:
    big = png_of(noise((400, 300)))
    limit = 12_000
    data, _, _ = fit_to_size(big, "image/png", limit)
    assert len(data) <= limit
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    assert width < 400
    assert abs(width / height - 4 / 3) < 0.02


def test_transparency_is_kept() -> None:
    big = png_of(noise((200, 200), "RGBA"))
    data, _, _ = fit_to_size(big, "image/png", len(big) // 3)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA"


def test_animation_is_kept_when_it_fits() -> None:
    frames = [noise((120, 120), seed=n).convert("P") for n in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = buffer.getvalue()
    data, mime, ext = fit_to_size(gif, "image/gif", len(gif) // 2)
    assert (mime, ext) == ("image/webp", "webp")
    assert len(data) <= len(gif) // 2
    with Image.open(io.BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 4


def test_impossible_limit() -> None:
    big = png_of(noise((100, 100)))
    with pytest.raises(ImageError) as info:
        fit_to_size(big, "image/png", 20)
    assert info.value.key == "image.cannot_fit"
    assert info.value.params == {"limit_bytes": 20}


def test_garbage_that_is_too_large() -> None:
    with pytest.raises(ImageError) as info:
        fit_to_size(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, "image/png", 100)
    assert info.value.key == "image.unreadable"


async def test_fit_to_size_async_matches() -> None:
    big = png_of(noise((200, 150)))
    limit = len(big) // 4
    assert await fit_to_size_async(big, "image/png", limit) == fit_to_size(big, "image/png", limit)
    assert await fit_to_size_async(PNG, "image/png", 10**6) == (PNG, "image/png", "png")


# ---- region masks ------------------------------------------------------------------------

W, H = 8, 6


def pixels(preset: str) -> Iterator[tuple[int, int, bool]]:
    data = region_mask(preset, W, H)
    assert sniff_image(data) == "image/png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (W, H)
        rgb = image.convert("RGB")
        for y in range(H):
            for x in range(W):
                value = rgb.getpixel((x, y))
                assert value in ((0, 0, 0), (255, 255, 255)), value
                yield x, y, value == (255, 255, 255)


@pytest.mark.parametrize(
    ("preset", "inside"),
    [
        ("left", lambda x, y: x < 4),
        ("right", lambda x, y: x >= 4),
        ("top", lambda x, y: y < 3),
        ("bottom", lambda x, y: y >= 3),
        ("centre", lambda x, y: 2 <= x < 6 and 1 <= y < 5),
        ("top_left", lambda x, y: x < 4 and y < 3),
        ("top_right", lambda x, y: x >= 4 and y < 3),
        ("bottom_left", lambda x, y: x < 4 and y >= 3),
        ("bottom_right", lambda x, y: x >= 4 and y >= 3),
    ],
)
def test_region_mask(preset: str, inside: object) -> None:
    assert callable(inside)
    for x, y, white in pixels(preset):
        assert white == inside(x, y), (preset, x, y)


def test_every_preset_has_a_label_and_a_mask() -> None:
    assert len(REGION_PRESETS) == 9
    for preset, label in REGION_PRESETS.items():
        assert label
        assert any(white for _, _, white in pixels(preset))
        assert not all(white for _, _, white in pixels(preset))


def test_odd_sizes_split_without_gaps_or_overlap() -> None:
    def mask(preset: str) -> list[bool]:
        with Image.open(io.BytesIO(region_mask(preset, 7, 5))) as image:
            rgb = image.convert("RGB")
            return [rgb.getpixel((x, y)) == (255, 255, 255) for y in range(5) for x in range(7)]

    for a, b in (("left", "right"), ("top", "bottom")):
        assert [p != q for p, q in zip(mask(a), mask(b), strict=True)] == [True] * 35
    quarters = [mask(q) for q in ("top_left", "top_right", "bottom_left", "bottom_right")]
    assert [sum(column) for column in zip(*quarters, strict=True)] == [1] * 35


def test_mask_data_url() -> None:
    url = mask_data_url("left", 64, 32)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :]) == region_mask("left", 64, 32)


@pytest.mark.parametrize(
    ("preset", "width", "height"),
    [("nowhere", 10, 10), ("left", 0, 10), ("left", 10, 1), ("left", 10_000, 10)],
)
def test_mask_refuses_bad_input(preset: str, width: int, height: int) -> None:
    with pytest.raises(ValueError):
        region_mask(preset, width, height)
