"""LazyTransport: plain http needs no CA bundle; https builds the verifying transport on first use;
the plain transport's TLS context trusts nothing (it fails closed)."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
from aiohttp import web

from bot.transport import LazyTransport, _no_tls


async def test_plain_http_is_served_without_building_the_tls_transport() -> None:
    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app = web.Application()
    app.router.add_get("/ping", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    transport = LazyTransport()
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            reply = await client.get(f"http://127.0.0.1:{port}/ping")
        assert reply.json() == {"pong": True}
        assert not transport.tls_loaded
    finally:
        await runner.cleanup()


async def test_an_https_request_builds_the_verifying_transport() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = LazyTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://127.0.0.1:{port}/")
    assert transport.tls_loaded


def test_the_plain_context_verifies_and_trusts_nothing() -> None:
    context = _no_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() == []
