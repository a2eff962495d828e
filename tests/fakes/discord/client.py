"""Pointing discord.py at a FakeDiscord, and running a client against it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

import discord
import discord.gateway
import discord.http
import yarl

from .server import FakeDiscord


@contextlib.contextmanager
def patch_discord(fake: FakeDiscord) -> Iterator[None]:
    """Send discord.py's REST calls and gateway connection to ``fake``; restore on exit."""
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


def heartbeat_threads() -> list[threading.Thread]:
    """discord.py's keep-alive threads that are still running."""
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, discord.gateway.KeepAliveHandler) and t.is_alive()
    ]


def assert_no_heartbeat_threads(timeout: float = 2.0) -> None:
    for thread in heartbeat_threads():
        thread.join(timeout)
    leaked = heartbeat_threads()
    if leaked:
        raise AssertionError(f"heartbeat threads still running: {leaked}")


@contextlib.asynccontextmanager
async def running(
    client: discord.Client,
    fake: FakeDiscord,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in, connect it until ready, and close it (and its threads) on exit.

    Login errors surface here instead of vanishing inside ``Client.start()``'s task.
    """
    await client.login(fake.token)
    connect = asyncio.create_task(client.connect(reconnect=True), name="fake-discord-connect")
    ready = asyncio.create_task(client.wait_until_ready(), name="fake-discord-ready")
    try:
        done, _ = await asyncio.wait(
            {connect, ready}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if connect in done:
            connect.result()
            raise RuntimeError("client.connect() returned before the client was ready")
        if ready not in done:
            raise TimeoutError(f"client not ready within {timeout} s")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(connect, timeout)
        with contextlib.suppress(asyncio.CancelledError):
            await ready
        assert_no_heartbeat_threads()
