"""The bot process: connect to Discord, serve until stopped, close cleanly; `mjbot check`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import yarl

from bot import gc_pause
from bot.app import MjBot
from bot.config import Settings
from bot.metrics import discord_trace
from bot.midjourney.client import MidjourneyClient
from bot.runtime import Services, build_services, shard_scope
from storage.db import StorageError, open_database
from storage.lock import AlreadyRunningError, InstanceLock

if TYPE_CHECKING:
    from bot.health import HealthServer
    from storage.shard_lock import ShardLock

log = logging.getLogger(__name__)

# How long a shutdown waits for interactions already being handled.
DRAIN_SECONDS = 7.0
# The longest `mjbot check` waits for the proxy's answer (one try).
CHECK_TIMEOUT = 15.0


def point_discord_at(settings: Settings) -> None:
    """Honour discord.api_base_url and discord.gateway_url (reverse proxies, tests)."""
    discord.http.Route.BASE = settings.discord.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.gateway_url)


async def run_bot(
    settings: Settings,
    stop: asyncio.Event,
    *,
    guild_ready_timeout: float = 2.0,
    drain_timeout: float = DRAIN_SECONDS,
    ready: Callable[[MjBot], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Log in, serve until `stop` is set or the connection dies, close everything; exit code.

    `clock` stands for wall time (tests share the fake Discord's, to expire tokens)."""
    point_discord_at(settings)
    lost: list[bool] = []

    def lose() -> None:  # the connection holding this process's shards is gone
        lost.append(True)
        stop.set()

    try:
        lock = await claim_instance(settings, on_lost=lose)
    except AlreadyRunningError as exc:
        log.error("Not started: %s", exc)
        return exc.exit_code
    except StorageError as exc:
        log.error("The database at '%s' cannot be opened: %s", settings.storage.database, exc)
        return 1
    try:
        code = await _run_locked(settings, stop, guild_ready_timeout, drain_timeout, ready, clock)
    finally:
        if lock is not None:
            await release_instance(lock)
    if lost:
        log.error(
            "Stopped: the PostgreSQL connection holding %s was lost, and another process may "
            "claim them now; start this one again to claim them back.",
            shard_scope(settings).describe(),
        )
        return 1
    return code


async def claim_instance(
    settings: Settings, *, on_lost: Callable[[], None] | None = None
) -> InstanceLock | ShardLock | None:
    """The process's claim on its database, refused while another process holds it.

    SQLite: one process per file (flock on `<file>.lock`, gone with the process). PostgreSQL:
    one process per shard (storage/shard_lock.py: an advisory lock per shard on a connection of
    its own, gone with the process); `on_lost` runs if that connection drops."""
    database = settings.storage.database
    if database.dialect == "sqlite":
        return InstanceLock.acquire(database.target)
    from storage.shard_lock import ShardLock  # asyncpg loads only for PostgreSQL

    return await ShardLock.acquire(database, shard_scope(settings), on_lost=on_lost)


async def release_instance(lock: InstanceLock | ShardLock) -> None:
    if isinstance(lock, InstanceLock):
        lock.release()
    else:
        await lock.release()


async def _run_locked(
    settings: Settings,
    stop: asyncio.Event,
    guild_ready_timeout: float,
    drain_timeout: float,
    ready: Callable[[MjBot], None] | None,
    clock: Callable[[], float],
) -> int:
    try:
        services = await build_services(settings, clock=clock)
    except (StorageError, OSError) as exc:
        log.error("The database at '%s' cannot be opened: %s", settings.storage.database, exc)
        return 1
    bot = MjBot(services, guild_ready_timeout=guild_ready_timeout)
    # Discord REST requests, 429s, acks and uploads; and the outbox learns the buckets.
    bot.http.http_trace = bot.outbox.trace_config(discord_trace())
    health = _health_server(settings, services, bot)
    connection: asyncio.Task[None] | None = None
    try:
        if health is not None:
            try:
                await health.start()
            except OSError as exc:
                log.error(
                    "The metrics endpoint cannot listen on %s:%s: %s",
                    settings.metrics.host,
                    settings.metrics.port,
                    exc.strerror or exc,
                )
                return 1
        try:
            await bot.login(settings.discord.token.get_secret_value())
        except discord.LoginFailure:
            log.error("Discord refused the bot token: check discord.token (MJBOT_DISCORD__TOKEN).")
            return 1
        except (discord.HTTPException, OSError) as exc:
            log.error("Discord could not be reached at %s: %s", settings.discord.api_base_url, exc)
            return 1
        # Logged in and set up (cogs loaded, services started): what is alive now lives on.
        gc_pause.resume()
        if ready is not None:
            ready(bot)
        connection = asyncio.create_task(bot.connect(reconnect=True), name="mjbot-gateway")
        stopper = asyncio.create_task(stop.wait(), name="mjbot-stop")
        done, _ = await asyncio.wait({connection, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
        if connection in done and connection.exception() is not None:
            log.error("the Discord connection ended: %s", connection.exception())
            return 1
        log.info("shutting down")
        return 0
    finally:
        if connection is not None:
            # Leave the gateway first: no new interaction starts from here on.
            connection.cancel()
            await asyncio.gather(connection, return_exceptions=True)
            await bot.leave_gateway()
        await _drain_interactions(drain_timeout)
        if health is not None:
            await health.stop()
        await bot.close()
        await services.stop()


def _health_server(settings: Settings, services: Services, bot: MjBot) -> HealthServer | None:
    """/healthz and /metrics when [metrics] enabled; they read, never change, the bot."""
    if not settings.metrics.enabled:
        return None
    # aiohttp's web server and prometheus_client load only when [metrics] is enabled.
    from bot.health import HealthServer, HealthSources
    from bot.metrics import METRICS

    METRICS.enable()

    def gateway_connected() -> bool:
        return bot.is_ready() and not bot.is_closed() and bot.gateway_open

    return HealthServer(
        settings.metrics,
        HealthSources(
            gateway_connected=gateway_connected,
            database_writable=services.db.writable,
            unfinished_jobs=lambda: services.job_repo.count_unfinished(services.scope),
            followed_tasks=lambda: services.proxies.followed_count,
            poll_interval=settings.midjourney.poll_interval_seconds,
        ),
    )


# Task names discord.py gives the handlers of one interaction or event.
_HANDLER_TASKS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
    "discord.py: ",
)


async def _drain_interactions(grace: float) -> None:
    """Let handlers already running finish (bounded) before the database and clients close.

    A handler cut short between posting a job message and recording it in SQLite would leave a
    message whose buttons find no job; one still waiting on its submit after `grace` is
    cancelled, and the next start-up reconciles its job (never resent).
    """
    current = asyncio.current_task()
    running = {
        task
        for task in asyncio.all_tasks()
        if task is not current and not task.done() and task.get_name().startswith(_HANDLER_TASKS)
    }
    if not running:
        return
    log.info("waiting up to %g s for %d interactions to finish", grace, len(running))
    _, late = await asyncio.wait(running, timeout=grace)
    for task in late:
        task.cancel()
    if late:
        log.warning("%d interactions did not finish in time and were cancelled", len(late))
        await asyncio.gather(*late, return_exceptions=True)


async def check_setup(settings: Settings) -> tuple[bool, list[str]]:
    """`mjbot check`: the config is valid (already), the database opens, the API answers."""
    from bot.midjourney.probe import probe

    sentences = ["The configuration is valid."]
    ok = True
    where = settings.storage.database  # shown without its password
    try:
        db = await open_database(where)
    except Exception as exc:
        ok = False
        sentences.append(f"The database at '{where}' cannot be opened: {where.redact(str(exc))}")
    else:
        await db.close()
        sentences.append(f"The database at '{where}' opens and is up to date.")
    mj = settings.midjourney
    if not mj.base_url and not mj.allow_default:
        sentences.append(
            "No default proxy is configured (midjourney.allow_default = false): each server "
            "connects its own with /mjadmin api set."
        )
        if not settings.security.secret_key.get_secret_value().strip():
            ok = False
            sentences.append(
                "Setting 'security.secret_key' is empty, so no server can connect its own proxy: "
                "set it (or MJBOT_SECURITY__SECRET_KEY) to a key from Fernet.generate_key()."
            )
        return ok, sentences
    async with MidjourneyClient(
        mj.base_url,
        mj.path_prefix,
        mj.api_key.get_secret_value(),
        mj.auth_style,
        timeout=min(mj.request_timeout_seconds, CHECK_TIMEOUT),
        max_read_retries=0,  # one try: the operator waits for the timeout once, not four times
    ) as api:
        result = await probe(api)
    ok = ok and result.ok
    sentences.extend(result.sentences)
    return ok, sentences
