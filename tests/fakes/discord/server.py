"""FakeDiscord: the aiohttp server, its state, and the API tests drive it with."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from . import limits
from .apps import AppsInjector
from .clock import FakeClock
from .gateway import Gateway
from .injection import Injector
from .interactions import Interaction
from .logs import BotError, ErrorLogCollector
from .models import ALL_PERMISSIONS, MANAGE_GUILD, Channel, Guild, Member, Role, User
from .ratelimits import Limited, Limits, RateLimiter
from .rest import BotRoutes
from .store import MessageStore, UploadedFile
from .webhooks import WebhookRoutes
from .wire import API_PREFIX, InjectedError, RecordedRequest, error, make_middleware

T = TypeVar("T")
MiB = 1024 * 1024


@dataclass
class Violation:
    """A request that broke one of Discord's limits."""

    method: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.problem}"


def default_guild(
    clock: FakeClock, name: str = "Test Server", *, shard: tuple[int, int] | None = None
) -> Guild:
    """One server: #general and #mj-logs; alice and bob (members), mod (Manage Server), owner.

    `shard` ([shard_id, shard_count]) picks an id that Discord's rule puts on that shard."""
    new = clock.snowflake
    guild_id = new() if shard is None else snowflake_on_shard(new(), *shard)
    moderators = Role(new(), "Moderators", MANAGE_GUILD | (1 << 13), position=1)
    users = [User(new(), name) for name in ("alice", "bob", "mod", "owner")]
    members = [Member(users[0]), Member(users[1]), Member(users[2], [moderators.id])]
    members.append(Member(users[3]))
    return Guild(
        guild_id,
        name,
        channels=[Channel(new(), "general"), Channel(new(), "mj-logs", position=1)],
        roles=[moderators],
        members=members,
        owner_id=users[3].id,
    )


def snowflake_on_shard(snowflake: int, shard_id: int, shard_count: int) -> int:
    """`snowflake` moved back at most `shard_count - 1` ms so that its guild is on `shard_id`."""
    ms = snowflake >> 22
    return ((ms - (ms - shard_id) % shard_count) << 22) | (snowflake & ((1 << 22) - 1))


class FakeDiscord(Injector, AppsInjector):
    """A wire-level Discord (REST API v10 + gateway) on 127.0.0.1 for the real discord.py client."""

    def __init__(
        self,
        token: str = "test-token",
        *,
        guilds: Sequence[Guild] | None = None,
        bot_name: str = "mjbot",
        attachment_size_limit: int = 10 * MiB,
        error_loggers: Sequence[str] = ("discord", "aiohttp.server"),
        clock: Callable[[], float] = time.time,
        rate_limits: bool | Limits = False,
    ) -> None:
        self.token = token
        self.clock = FakeClock(clock)
        # Discord's REST rate limits, when enabled: headers on every answer, 429s past a limit.
        self.rate_limits = RateLimiter(
            self.clock,
            rate_limits if isinstance(rate_limits, Limits) else Limits(),
            enabled=rate_limits is not False,
        )
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = User(self.clock.snowflake(), bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.guilds: list[Guild] = []
        self.use_guilds(list(guilds) if guilds is not None else [default_guild(self.clock)])
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.injected_errors: list[InjectedError] = []
        # Direct-message channels the bot opened (channel id -> user id); users refusing DMs.
        self.dm_channels: dict[int, int] = {}
        self.dms_closed: set[int] = set()
        self.store = MessageStore(self)
        self.gateway = Gateway(self)
        # GET /gateway/bot's `shards` (Discord's recommendation), and the count below which an
        # IDENTIFY is refused with 4011 "Sharding required" (Discord: past 2,500 guilds).
        self.recommended_shards = 1
        self.required_shards = 1
        self.errors = ErrorLogCollector(error_loggers, self.notify)
        self._waiters: set[asyncio.Future[None]] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[make_middleware(self)], client_max_size=64 * MiB)
        app.router.add_get("/", self.gateway.handle)
        BotRoutes(self).register(app)
        WebhookRoutes(self).register(app)
        app.on_shutdown.append(self._on_shutdown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        self.errors.install()

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.gateway.close_all()

    async def stop(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self.errors.uninstall()
        for waiter in self._waiters:
            waiter.cancel()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base_url(self) -> str:
        return self.http_base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/"

    # -- world -----------------------------------------------------------------------------

    def use_guilds(self, guilds: Sequence[Guild]) -> None:
        """The servers the bot is in (before it connects), the bot a member of each."""
        self.guilds[:] = guilds
        for guild in self.guilds:
            if guild.member(self.bot_user.id) is None:
                name = self.bot_user.username
                role = Role(self.clock.snowflake(), name, ALL_PERMISSIONS, position=2)
                guild.roles.append(role)
                guild.members.append(Member(self.bot_user, [role.id]))

    @property
    def guild(self) -> Guild:
        return self.guilds[0]

    @property
    def channel(self) -> Channel:
        return self.guild.channels[0]

    @property
    def users(self) -> dict[str, User]:
        return {m.user.username: m.user for g in self.guilds for m in g.members}

    @property
    def user(self) -> User:
        """The default member who runs commands and clicks buttons (``alice``)."""
        return next(m.user for m in self.guild.members if not m.user.bot)

    def guild_by_id(self, guild_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def guild_of_channel(self, channel_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.channel(channel_id) is not None), None)

    def find_user(self, user_id: int) -> User | None:
        # By id over every guild: two guilds may each have an "alice" (`users` is by name).
        members = (m.user for g in self.guilds for m in g.members)
        return next((u for u in members if u.id == user_id), None)

    def user_by_id(self, user_id: int) -> User:
        user = self.find_user(user_id)
        if user is None:
            raise KeyError(user_id)
        return user

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (token expiry, the 3-s limit) without sleeping."""
        self.clock.advance(seconds)
        self.notify()

    # -- messages --------------------------------------------------------------------------

    @property
    def messages(self) -> dict[int, dict[str, Any]]:
        return self.store.messages

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Non-ephemeral messages of a channel, oldest first."""
        return self.store.visible(channel_id)

    def find_messages(
        self,
        predicate: Callable[[dict[str, Any]], Any] | None = None,
        *,
        channel_id: int | None = None,
        contains: str | None = None,
        author_id: int | None = None,
        ephemeral: bool | None = None,
    ) -> list[dict[str, Any]]:
        found = []
        for mid, message in self.store.messages.items():
            if channel_id is not None and message["channel_id"] != str(channel_id):
                continue
            if contains is not None and contains not in message["content"]:
                continue
            if author_id is not None and message["author"]["id"] != str(author_id):
                continue
            if ephemeral is not None and self.store.meta[mid].ephemeral != ephemeral:
                continue
            if predicate is None or predicate(message):
                found.append(message)
        return found

    async def user_message(
        self, content: str, *, user: User | None = None, channel_id: int | None = None
    ) -> dict[str, Any]:
        """A member posts a message in a channel (dispatched as MESSAGE_CREATE)."""
        channel = channel_id or self.channel.id
        return await self.store.create(channel, {"content": content}, [], author=user or self.user)

    # -- waiting ---------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every ``wait_for``: a request, a message or a logged error changed the state."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
        *,
        fail_on_errors: bool = True,
    ) -> T:
        """The first truthy ``predicate()``; raises ``BotError`` as soon as the bot logs one.

        No polling: the predicate is re-evaluated whenever the fake records a request, changes
        a message, moves its clock or collects an error log record.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if fail_on_errors and self.errors.records:
                raise BotError(self.errors.describe())
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not met within {timeout} s (wait_for re-checks only when the fake"
                    " sees a request, a message change or a logged error; for bot-side state call"
                    " fake.notify() or use the bot's own events)"
                )
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)

    async def wait_message(
        self,
        predicate: Callable[[dict[str, Any]], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
    ) -> dict[str, Any]:
        """The first stored message (in creation order) for which ``predicate`` holds."""
        return await self.wait_for(
            lambda: next((m for m in self.store.messages.values() if predicate(m)), None), timeout
        )

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (the API mirrors discord.py's wait_for)
        """Until a bot has identified and received its guilds."""
        await self.wait_for(lambda: self.gateway.connected, timeout)

    # -- limits, violations, errors --------------------------------------------------------

    def violate(self, request: web.Request, problem: str) -> None:
        path = request.path.removeprefix(API_PREFIX)
        self.violations.append(Violation(request.method, path, problem))
        self.notify()

    def reject(self, request: web.Request, problems: list[str]) -> web.Response:
        for problem in problems:
            self.violate(request, problem)
        return error(400, 50035, "Invalid Form Body", {"_errors": problems})

    def check_message(
        self,
        request: web.Request,
        payload: dict[str, Any],
        files: list[UploadedFile],
        *,
        creating: bool,
    ) -> web.Response | None:
        """Discord's answer to an invalid message body, after recording the violations."""
        for f in files:
            if len(f.data) > self.attachment_size_limit:
                self.violate(
                    request,
                    f"{f.filename}: {len(f.data)} bytes > limit {self.attachment_size_limit}",
                )
                return error(413, 40005, "Request entity too large")
        problems = limits.check_message(payload, len(files))
        if creating and limits.is_empty(payload, len(files)):
            self.violate(request, "empty message")
            return error(400, 50006, "Cannot send an empty message")
        return self.reject(request, problems) if problems else None

    def take_rate_limited(self) -> list[Limited]:
        """Return and clear the 429s answered so far (for tests that provoke them on purpose)."""
        return self.rate_limits.take()

    def take_violations(self) -> list[Violation]:
        """Return and clear the violations (for tests that provoke one on purpose)."""
        found, self.violations = self.violations, []
        return found

    def assert_clean(self) -> None:
        """Fail if the bot broke a limit or logged an error."""
        problems = [f"limit violation: {v}" for v in self.violations]
        problems += [
            f"rate limited ({hit.scope}): {hit.method} {hit.path}"
            for hit in self.rate_limits.limited
        ]
        if self.errors.records:
            problems.append("bot logged errors:\n" + self.errors.describe())
        if problems:
            raise AssertionError("\n".join(problems))

    def inject_error(
        self,
        method: str | None,
        path_regex: str,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.01,
        body: dict[str, Any] | None = None,
    ) -> InjectedError:
        """Answer the next ``times`` matching requests (path relative to /api/v10) with an error."""
        injected = InjectedError(method, re.compile(path_regex), status, times, retry_after, body)
        self.injected_errors.append(injected)
        return injected

    # -- gateway ---------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Any, *, intent: int = 0) -> None:
        if self.gateway.shards:
            await self.gateway.dispatch(event, data, intent=intent)

    async def drop_gateway(self, code: int = 4000, *, shard: tuple[int, int] | None = None) -> None:
        await self.gateway.drop(code, shard=shard)
