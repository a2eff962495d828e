"""Composition root: builds the services from the settings, runs the bot, checks a set-up."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import httpx
import yarl

from bot.access import Gate
from bot.config import Settings
from bot.jobs import JobService
from bot.media.download import make_download_client
from bot.midjourney.client import MidjourneyClient
from bot.moderation import ModerationService
from bot.retention import RetentionSweeper
from bot.safety import register_secrets
from bot.tracker import Tracker
from storage.db import Database, StorageError
from storage.guilds import GuildRepository
from storage.jobs import JobRecord, JobRepository
from storage.usage import UsageRepository
from storage.users import UserSettingsRepository

if TYPE_CHECKING:
    from bot.app import MjBot
    from bot.ui.audit import AuditPoster
    from bot.ui.presenter import JobPresenter
    from bot.webhook import HookReceiver

log = logging.getLogger(__name__)

# Successful jobs younger than this whose upload never happened are uploaded at start-up.
UPLOAD_WINDOW = 24 * 3600.0
# How long a shutdown waits for interactions already being handled.
DRAIN_SECONDS = 7.0
# The longest `mjbot check` waits for the proxy's answer (one try).
CHECK_TIMEOUT = 15.0


@dataclass
class Services:
    """Everything the cogs and UI use; built once, closed once."""

    settings: Settings
    db: Database
    api: MidjourneyClient
    downloads: httpx.AsyncClient
    job_repo: JobRepository
    guilds: GuildRepository
    usage: UsageRepository
    users: UserSettingsRepository
    gate: Gate
    tracker: Tracker
    jobs: JobService
    moderation: ModerationService
    retention: RetentionSweeper
    clock: Callable[[], float] = time.time
    presenter: JobPresenter = field(init=False)
    audit: AuditPoster = field(init=False)
    hooks: HookReceiver | None = None
    _closed: bool = False

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.jobs.download_max_mb * 1024 * 1024)

    async def start(self, bot: MjBot) -> None:
        """Wire the Discord side in and resume every unfinished job (called from setup_hook)."""
        from bot.ui.audit import AuditPoster
        from bot.ui.presenter import JobPresenter

        self.presenter = JobPresenter(
            bot, self.job_repo, self.settings, self.downloads, clock=self.clock
        )
        self.presenter.notice = lambda: self.tracker.health.notice
        self.audit = AuditPoster(bot, self.gate, self.job_repo)
        self.tracker.health.alert = self.audit.proxy_alert
        self.jobs.on_finished = self.audit.job_finished
        self.moderation.on_change = self.audit.change
        self.moderation.on_job_cancelled = self._job_changed
        self.tracker.listener = self._job_changed
        if self.hooks is not None:
            await self.hooks.start()
        await self._reconcile_submitting()
        unfinished = await self.tracker.resume()
        # Jobs that ended while the bot was away, or whose image upload a stop interrupted
        # (proxy image links live about a day).
        unuploaded = await self.job_repo.awaiting_upload(self.clock() - UPLOAD_WINDOW)
        await self.presenter.resume([j for j in unfinished if j.task_id is not None] + unuploaded)
        self.tracker.start()
        self.retention.start()
        log.info("resumed %d unfinished jobs", len(unfinished))

    async def _reconcile_submitting(self) -> None:
        """A job recorded as 'submitting' may or may not have reached the proxy: never resend."""
        for job in await self.job_repo.unfinished():
            if job.state == "submitting":
                await self.job_repo.mark_unknown(job.id, "mjbot:job.failure.interrupted")
                await self.usage.refund(job.id)
                log.warning("job %s was interrupted during its submit; not resent", job.id)
                await self._tell_interrupted(job.id)

    async def _tell_interrupted(self, job_id: int) -> None:
        """The member saw no message for this job: post one that says what happened."""
        job = await self.job_repo.get(job_id)
        if job is None or await self.job_repo.messages_for_job(job_id):
            return
        try:
            await self.presenter.post_reply(job, reply_to=await self.presenter.parent_message(job))
        except discord.HTTPException as exc:
            log.warning("could not tell about interrupted job %s: %s", job_id, exc)

    async def _job_changed(self, job: JobRecord) -> None:
        await self.jobs.job_finished(job)
        await self.presenter.job_changed(job)

    async def stop(self) -> None:
        """Stop tracking and close every client exactly once."""
        if self._closed:
            return
        self._closed = True
        await self.retention.stop()
        await self.tracker.stop()
        if self.hooks is not None:
            await self.hooks.stop()
        presenter = getattr(self, "presenter", None)
        if presenter is not None:
            await presenter.close()
        audit = getattr(self, "audit", None)
        if audit is not None:
            await audit.close()
        await self.api.aclose()
        await self.downloads.aclose()
        await self.db.close()


async def build_services(settings: Settings, *, clock: Callable[[], float] = time.time) -> Services:
    db = await Database.open(settings.storage.path, clock=clock)
    mj = settings.midjourney
    # Proxy texts may echo the key (and anything may echo the token): never shown to members.
    register_secrets([mj.api_key.get_secret_value(), settings.discord.token.get_secret_value()])
    api = MidjourneyClient(
        mj.base_url,
        mj.path_prefix,
        mj.api_key.get_secret_value(),
        mj.auth_style,
        timeout=mj.request_timeout_seconds,
    )
    downloads = make_download_client()
    job_repo = JobRepository(db)
    guilds = GuildRepository(db)
    usage = UsageRepository(db)
    users = UserSettingsRepository(db)
    gate = Gate(guilds, settings.quota, clock=clock)
    tracker = Tracker(
        api,
        job_repo,
        interval=mj.poll_interval_seconds,
        batch_size=mj.max_batch_size,
        timeout_seconds=mj.job_timeout_minutes * 60,
        clock=clock,
    )
    hooks = None
    notify_hook = None
    if settings.webhook.enabled:
        from bot.webhook import HookReceiver

        path = f"/mjbot/hook/{secrets.token_urlsafe(24)}"
        hooks = HookReceiver(settings.webhook, path, tracker)
        notify_hook = settings.webhook.public_url + path
    jobs = JobService(
        api, job_repo, usage, users, gate, tracker, settings, notify_hook=notify_hook, clock=clock
    )
    moderation = ModerationService(
        guilds, usage, job_repo, gate, tracker, api, settings.quota, clock=clock
    )
    return Services(
        settings=settings,
        db=db,
        api=api,
        downloads=downloads,
        job_repo=job_repo,
        guilds=guilds,
        usage=usage,
        users=users,
        gate=gate,
        tracker=tracker,
        jobs=jobs,
        moderation=moderation,
        retention=RetentionSweeper(job_repo, settings.storage.retention_days, clock=clock),
        clock=clock,
        hooks=hooks,
    )


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
) -> int:
    """Log in, serve until `stop` is set or the connection dies, close everything; exit code."""
    from bot.app import MjBot

    point_discord_at(settings)
    try:
        services = await build_services(settings)
    except (StorageError, OSError) as exc:
        log.error("The database at '%s' cannot be opened: %s", settings.storage.path, exc)
        return 1
    bot = MjBot(services, guild_ready_timeout=guild_ready_timeout)
    connection: asyncio.Task[None] | None = None
    try:
        try:
            await bot.login(settings.discord.token.get_secret_value())
        except discord.LoginFailure:
            log.error("Discord refused the bot token: check discord.token (MJBOT_DISCORD__TOKEN).")
            return 1
        except (discord.HTTPException, OSError) as exc:
            log.error("Discord could not be reached at %s: %s", settings.discord.api_base_url, exc)
            return 1
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
            if bot.ws is not None and bot.ws.open:
                await bot.ws.close(code=1000)
        await _drain_interactions(drain_timeout)
        await bot.close()
        await services.stop()


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
    try:
        db = await Database.open(settings.storage.path)
    except Exception as exc:
        ok = False
        sentences.append(f"The database at '{settings.storage.path}' cannot be opened: {exc}")
    else:
        await db.close()
        sentences.append(f"The database at '{settings.storage.path}' opens and is up to date.")
    mj = settings.midjourney
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
