"""Composition root: the services the bot uses, built from the settings.

Running the process (Discord connection, shutdown, `mjbot check`) is `bot/process.py`, which
imports this module and `bot/app.py`; this module imports neither, so app and runtime form no
circle."""

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

from bot.access import Gate
from bot.config import Settings
from bot.jobs import JobService
from bot.media.download import make_download_client
from bot.members import MemberService
from bot.metrics import METRICS, MeteredTransport, instrument_tracker
from bot.midjourney.client import MidjourneyClient
from bot.moderation import ModerationService
from bot.prompts import skeleton
from bot.proxies import ProxyRegistry
from bot.proxy_admin import ProxyAdmin
from bot.retention import RetentionSweeper
from bot.safety import register_secrets
from bot.tracker import TaskSource, Tracker
from storage.db import Database, open_database
from storage.guilds import GuildRepository
from storage.jobs import JobRecord, JobRepository
from storage.proxies import ProxyRepository
from storage.records import TERMINAL_STATES
from storage.shards import ALL_SHARDS, ShardScope
from storage.usage import UsageRepository
from storage.users import UserSettingsRepository

if TYPE_CHECKING:
    from bot.ui.audit import AuditPoster
    from bot.ui.presenter import JobPresenter
    from bot.webhook import HookReceiver

log = logging.getLogger(__name__)

# Successful jobs younger than this whose upload never happened are uploaded at start-up.
UPLOAD_WINDOW = 24 * 3600.0


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
    members: MemberService
    proxies: ProxyRegistry
    proxy_admin: ProxyAdmin
    clock: Callable[[], float] = time.time
    # The guilds this process serves (discord.shard_count / shard_ids): it follows, renders and
    # reconciles only their jobs; process-wide chores run where shard 0 runs.
    scope: ShardScope = ALL_SHARDS
    presenter: JobPresenter = field(init=False)
    audit: AuditPoster = field(init=False)
    hooks: HookReceiver | None = None
    _closed: bool = False

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.jobs.download_max_mb * 1024 * 1024)

    async def start(self, bot: discord.Client) -> None:
        """Wire the Discord side in and resume every unfinished job (called from setup_hook)."""
        from bot.ui.audit import AuditPoster
        from bot.ui.presenter import JobPresenter

        self.presenter = JobPresenter(
            bot,
            self.job_repo,
            self.settings,
            self.downloads,
            outbox=getattr(bot, "outbox", None),  # MjBot's: it learns from discord.py's session
            clock=self.clock,
        )
        self.presenter.notice = self.proxies.notice
        self.presenter.backend_of = self.proxies.backend_of
        self.presenter.origin_of = self.proxies.origin_of
        self.audit = AuditPoster(bot, self.gate, self.job_repo, outbox=getattr(bot, "outbox", None))
        self.proxies.alert = self.audit.proxy_alert
        self.jobs.on_finished = self.audit.job_finished
        self.moderation.on_change = self.audit.change
        self.moderation.on_job_cancelled = self._job_changed
        self.proxies.set_listener(self._job_changed)
        if self.hooks is not None:
            await self.hooks.start()
        await self.proxies.load()
        await self._reconcile_submitting()
        unfinished = await self.proxies.resume(self.scope)
        # Jobs that ended while the bot was away, or whose image upload a stop interrupted
        # (proxy image links live about a day).
        unuploaded = await self.job_repo.awaiting_upload(self.clock() - UPLOAD_WINDOW, self.scope)
        await self.presenter.resume([j for j in unfinished if j.task_id is not None] + unuploaded)
        self.proxies.start()
        if self.scope.runs_chores:
            self.retention.start()
        log.info("resumed %d unfinished jobs (%s)", len(unfinished), self.scope.describe())

    async def _reconcile_submitting(self) -> None:
        """A job recorded as 'submitting' may or may not have reached the proxy: never resend."""
        for job in await self.job_repo.unfinished(self.scope):
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
        METRICS.job_changed(job.state, terminal=job.state in TERMINAL_STATES)
        await self.jobs.job_finished(job)
        await self.presenter.job_changed(job)

    async def stop(self) -> None:
        """Stop tracking and close every client exactly once."""
        if self._closed:
            return
        self._closed = True
        await self.retention.stop()
        await self.proxies.stop()
        if self.hooks is not None:
            await self.hooks.stop()
        presenter = getattr(self, "presenter", None)
        if presenter is not None:
            await presenter.close()
        audit = getattr(self, "audit", None)
        if audit is not None:
            await audit.close()
        await self.proxies.aclose()
        await self.api.aclose()
        await self.downloads.aclose()
        await self.db.close()


def shard_scope(settings: Settings) -> ShardScope:
    """The guilds this process serves: discord.shard_count and discord.shard_ids."""
    return ShardScope.of(settings.discord.shard_count, settings.discord.shard_ids)


async def build_services(settings: Settings, *, clock: Callable[[], float] = time.time) -> Services:
    db = await open_database(settings.storage.database, clock=clock)
    mj = settings.midjourney
    # Proxy texts may echo the key (and anything may echo the token or the database's
    # password): never shown to members.
    register_secrets(
        [
            mj.api_key.get_secret_value(),
            settings.discord.token.get_secret_value(),
            *settings.storage.database.secrets,
        ]
    )
    # The banned-word look-alike table is read (a few ms) before the first prompt, not mid-job.
    await asyncio.to_thread(skeleton, "")
    api = MidjourneyClient(
        mj.base_url,
        mj.path_prefix,
        mj.api_key.get_secret_value(),
        mj.auth_style,
        timeout=mj.request_timeout_seconds,
        transport=MeteredTransport(),
    )
    downloads = make_download_client()
    job_repo = JobRepository(db)
    guilds = GuildRepository(db)
    usage = UsageRepository(db)
    users = UserSettingsRepository(db)
    gate = Gate(guilds, settings.quota, clock=clock)

    def make_tracker(client: TaskSource) -> Tracker:
        made = Tracker(
            client,
            job_repo,
            interval=mj.poll_interval_seconds,
            batch_size=mj.max_batch_size,
            timeout_seconds=mj.job_timeout_minutes * 60,
            clock=clock,
        )
        instrument_tracker(made)
        return made

    tracker = make_tracker(api)
    proxies = ProxyRegistry(
        settings,
        ProxyRepository(db),
        job_repo,
        api,
        tracker,
        make_tracker,
        make_transport=MeteredTransport,
    )
    hooks = None
    notify_hook = None
    if settings.webhook.enabled:
        from bot.webhook import HookReceiver

        path = f"/mjbot/hook/{secrets.token_urlsafe(24)}"
        hooks = HookReceiver(settings.webhook, path, proxies)
        notify_hook = settings.webhook.public_url + path
    jobs = JobService(
        proxies, job_repo, usage, users, gate, settings, notify_hook=notify_hook, clock=clock
    )
    moderation = ModerationService(
        guilds, usage, job_repo, gate, proxies, proxies, settings.quota, clock=clock
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
        retention=RetentionSweeper(
            job_repo, settings.storage.retention_days, proxies=proxies.repo, clock=clock
        ),
        members=MemberService(
            gate,
            job_repo,
            usage,
            users,
            max_prompt_length=settings.jobs.max_prompt_length,
            read_task=proxies.raw_task,
            clock=clock,
        ),
        proxies=proxies,
        proxy_admin=ProxyAdmin(proxies, moderation, guilds, settings),
        clock=clock,
        hooks=hooks,
        scope=shard_scope(settings),
    )
