"""The fake gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME, member chunks and dispatches.

Shards as Discord runs them: IDENTIFY may carry `shard: [shard_id, shard_count]`; each session
receives only the events of the guilds with `(guild_id >> 22) % shard_count == shard_id`
(direct messages go to shard 0), computed per session, so several connections (one per shard,
from one process or several) are served at once. A session without `shard` is `[0, 1]`.
"""

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


# Close codes Discord uses for a bad shard and for a bot that must shard.
INVALID_SHARD = 4010
SHARDING_REQUIRED = 4011


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shard: tuple[int, int] = (0, 1)

    def owns(self, guild_id: int | None) -> bool:
        """Discord's rule: the guild's events reach this session (DMs: shard 0)."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


def event_guild(event: str, data: Any) -> int | None:
    """The guild an event belongs to (None: not a guild's event, e.g. a direct message)."""
    if not isinstance(data, dict):
        return None
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    raw = data.get("guild_id")
    return int(raw) if raw is not None else None


class Gateway:
    """Gateway state of one fake: sessions, sockets and counters the tests can assert on."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None  # the latest session to identify or resume
        # The live session of each shard ([shard_id, shard_count]): events go to these.
        self.shards: dict[tuple[int, int], GatewaySession] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.received: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0

    @property
    def connected(self) -> bool:
        return self.current is not None and self.current.ws is not None

    def connected_shards(self) -> set[tuple[int, int]]:
        """The shards ([shard_id, shard_count]) whose session has an open socket."""
        return {shard for shard, s in self.shards.items() if s.ws is not None and not s.ws.closed}

    def session_of(self, ws: web.WebSocketResponse) -> GatewaySession | None:
        return next((s for s in self.shards.values() if s.ws is ws), None)

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
            await self._request_members(ws, data)
        self.fake.notify()

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = _shard(data.get("shard"))
        if shard is None:
            await ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        fake = self.fake
        if shard[1] < fake.required_shards:
            await ws.close(code=SHARDING_REQUIRED, message=b"Sharding required.")
            return
        self.identify_count += 1
        session = GatewaySession(uuid.uuid4().hex, int(data.get("intents", 0)), ws=ws, shard=shard)
        self.sessions[session.id] = session
        self.shards[shard] = session
        self.current = session
        guilds = [g for g in fake.guilds if session.owns(g.id)]
        ready = payloads.ready(fake.bot_user, guilds, session.id, fake.gateway_url, shard)
        await self._send(session, "READY", ready)
        for guild in guilds:
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
            self.shards[session.shard] = session
            last = data.get("seq") or 0
            for event in session.events:
                if event["s"] > last:
                    await ws.send_str(json.dumps(event))
        await self._send(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _request_members(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        guild = self.fake.guild_by_id(int(data["guild_id"]))
        session = self.session_of(ws)
        if guild is None or session is None or not session.owns(guild.id):
            return
        members = guild.members
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.username.startswith(data["query"])]
        chunk = payloads.members_chunk(guild, members, data.get("nonce"))
        await self._send(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send(self, session: GatewaySession, event: str, data: Any) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(frame)
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: Any, *, intent: int = 0) -> int:
        """Send an event to every shard's session that owns its guild (replayed on RESUME if
        the socket is down); returns how many sessions it went to."""
        if not self.shards:
            raise RuntimeError("no bot has identified on the fake gateway")
        guild_id = event_guild(event, data)
        sent = 0
        for session in list(self.shards.values()):
            if not session.owns(guild_id) or (intent and not session.intents & intent):
                continue
            await self._send(session, event, data)
            sent += 1
        return sent

    def wants_content(self) -> bool:
        return self.current is not None and bool(self.current.intents & MESSAGE_CONTENT)

    async def drop(self, code: int = 4000, *, shard: tuple[int, int] | None = None) -> None:
        """Close a socket from the server side, as Discord does before a RESUME: the given
        shard's, else the latest session's."""
        session = self.current if shard is None else self.shards.get(shard)
        if session is None or session.ws is None:
            raise RuntimeError("no gateway connection to drop")
        ws, session.ws = session.ws, None
        await ws.close(code=code, message=b"fake drop")

    def invalidate_sessions(self) -> None:
        """Forget every session: the next RESUME gets INVALID_SESSION and must re-IDENTIFY."""
        self.sessions.clear()
        self.shards.clear()

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"fake discord stopping")


def _shard(raw: Any) -> tuple[int, int] | None:
    """IDENTIFY's `shard` as Discord checks it: [shard_id, shard_count], 0 <= id < count."""
    if raw is None:
        return (0, 1)
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    ):
        return None
    shard_id, count = raw
    return (shard_id, count) if count >= 1 and 0 <= shard_id < count else None
