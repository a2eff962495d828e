"""The fake gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME, member chunks and dispatches."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads

if TYPE_CHECKING:
    from .server import FakeDiscord

HEARTBEAT_INTERVAL_MS = 41250
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Gateway:
    """Gateway state of one fake: sessions, sockets and counters the tests can assert on."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.sockets: set[web.WebSocketResponse] = set()
        self.received: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0

    @property
    def connected(self) -> bool:
        return self.current is not None and self.current.ws is not None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await ws.send_str(
                json.dumps({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_frame(ws, json.loads(msg.data))
        finally:
            self.sockets.discard(ws)
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
            self.fake.notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d") or {}
        self.received.append(frame)
        if op == 1:
            self.heartbeat_count += 1
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:
            await self._identify(ws, data)
        elif op == 6:
            await self._resume(ws, data)
        elif op == 8:
            await self._request_members(data)
        self.fake.notify()

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_count += 1
        session = GatewaySession(uuid.uuid4().hex, int(data.get("intents", 0)), ws=ws)
        self.sessions[session.id] = session
        self.current = session
        fake = self.fake
        ready = payloads.ready(fake.bot_user, fake.guilds, session.id, fake.gateway_url)
        await self._send(session, "READY", ready)
        for guild in fake.guilds:
            await self._send(session, "GUILD_CREATE", payloads.guild_create(guild))

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.fake.token:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        self.resume_count += 1
        async with session.lock:
            session.ws = ws
            self.current = session
            last = data.get("seq") or 0
            for event in session.events:
                if event["s"] > last:
                    await ws.send_str(json.dumps(event))
        await self._send(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _request_members(self, data: dict[str, Any]) -> None:
        guild = self.fake.guild_by_id(int(data["guild_id"]))
        if guild is None or self.current is None:
            return
        members = guild.members
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.username.startswith(data["query"])]
        chunk = payloads.members_chunk(guild, members, data.get("nonce"))
        await self._send(self.current, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send(self, session: GatewaySession, event: str, data: Any) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(frame)
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: Any, *, intent: int = 0) -> None:
        """Send an event to the current session; replayed on RESUME if the socket is down."""
        session = self.current
        if session is None:
            raise RuntimeError("no bot has identified on the fake gateway")
        if intent and not session.intents & intent:
            return
        await self._send(session, event, data)

    def wants_content(self) -> bool:
        return self.current is not None and bool(self.current.intents & MESSAGE_CONTENT)

    async def drop(self, code: int = 4000) -> None:
        """Close the bot's socket from the server side, as Discord does before a RESUME."""
        if self.current is None or self.current.ws is None:
            raise RuntimeError("no gateway connection to drop")
        ws, self.current.ws = self.current.ws, None
        await ws.close(code=code, message=b"fake drop")

    def invalidate_sessions(self) -> None:
        """Forget every session: the next RESUME gets INVALID_SESSION and must re-IDENTIFY."""
        self.sessions.clear()

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"fake discord stopping")
