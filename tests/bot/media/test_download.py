"""Limited downloads from a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.media.download import MAX_REDIRECTS, download_image
from bot.media.kinds import DownloadedImage, ImageError
from tests.bot.media.helpers import PNG

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
