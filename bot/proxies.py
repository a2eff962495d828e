"""Which proxy serves what: each server's own proxy (/mjadmin api) or the operator's default.

One cached API client and one batched poller (`Tracker`) per distinct proxy (address, prefix,
key, auth style): a batch never mixes the task ids of two proxies, and a proxy that refuses its
key slows and tells only the servers whose jobs run on it. A job remembers the proxy it was
submitted to (`jobs.proxy_id`; proxies rows never change), so a restart or a later change of its
server's proxy keeps polling, clicking and downloading at the right place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx

from bot.config import AuthStyle, Backend, Settings
from bot.errors import UserFacingError
from bot.keys import KeyBox, KeyBoxError
from bot.midjourney.client import MidjourneyClient
from bot.proxy_endpoint import (
    Endpoint,
    UnreadableKey,
    add_log_secrets,
    own_log_templates,
    remember_secret,
)
from bot.public_transport import guard_transport
from bot.tracker import JobListener, TaskSource, Tracker
from bot.transport import LazyTransport
from storage.jobs import JobRecord, JobRepository
from storage.proxies import ProxyRecord, ProxyRepository
from storage.shards import ALL_SHARDS, ShardScope

log = logging.getLogger(__name__)

__all__ = ["Endpoint", "ProxyHandle", "ProxyRegistry", "add_log_secrets", "remember_secret"]

TrackerFactory = Callable[[TaskSource], Tracker]
AlertSink = Callable[[int, str], Awaitable[None]]
# A server's own key refused / its balance spent: its moderators act with /mjadmin api.
OWN_PROXY_ALERTS = {
    "proxy.audit.key_refused": "proxies.audit.key_refused",
    "proxy.audit.quota": "proxies.audit.quota",
}


# The longest a moderator's "Job info" waits for the proxy's own answer.
RAW_READ_SECONDS = 8.0


@dataclass(frozen=True)
class ProxyHandle:
    """A proxy ready to use: `ref` is what jobs record (None = the operator's default)."""

    ref: int | None
    endpoint: Endpoint
    api: MidjourneyClient
    tracker: Tracker

    @property
    def backend(self) -> Backend:
        return self.endpoint.backend

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url


class ProxyRegistry:
    """Hands out the proxy of a server or of a job; owns the servers' clients and pollers."""

    def __init__(
        self,
        settings: Settings,
        repo: ProxyRepository,
        jobs: JobRepository,
        default_api: MidjourneyClient,
        default_tracker: Tracker,
        make_tracker: TrackerFactory,
        *,
        make_transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        mj = settings.midjourney
        self._settings = settings
        self.repo = repo
        self._jobs = jobs
        self._make_tracker = make_tracker
        self._make_transport = make_transport
        secret = settings.security.secret_key.get_secret_value().strip()
        self.keybox: KeyBox | None = KeyBox(secret) if secret else None
        default = Endpoint(
            mj.base_url,
            default_api.path_prefix,
            mj.api_key.get_secret_value(),
            mj.auth_style,
            mj.backend,
        )
        self._default = ProxyHandle(None, default, default_api, default_tracker)
        self._by_identity: dict[str, ProxyHandle] = {default.identity: self._default}
        # Proxies rows never change once written, so they are cached by id; which one a server
        # uses now is read from the database each time (another process may have changed it).
        self._records: dict[int, ProxyRecord] = {}
        self._handles: dict[int, ProxyHandle] = {}
        self._unusable: set[int] = set()
        # Pollers of proxies whose key cannot be read: they only run their jobs' deadlines.
        self._stranded: dict[int, Tracker] = {}
        self._started = False
        self.listener: JobListener | None = None
        self.alert: AlertSink | None = None
        default_tracker.health.alert = self._alert

    @property
    def default(self) -> ProxyHandle | None:
        """The operator's proxy, when servers without their own may use it."""
        if not self._settings.midjourney.allow_default or not self._default.base_url:
            return None
        return self._default

    @property
    def trackers(self) -> list[Tracker]:
        return [h.tracker for h in self._by_identity.values()] + list(self._stranded.values())

    @property
    def followed_count(self) -> int:
        """Tasks followed at every proxy (for /healthz and /metrics)."""
        return sum(len(t.followed_task_ids) for t in self.trackers)

    async def load(self) -> None:
        self._records = {record.id: record for record in await self.repo.all()}

    async def _record(self, proxy_id: int) -> ProxyRecord | None:
        record = self._records.get(proxy_id)
        if record is None:
            record = await self.repo.get(proxy_id)
            if record is not None:
                self._records[proxy_id] = record
        return record

    # ---- handing out -----------------------------------------------------------------------
    async def current(self, guild_id: int | None) -> ProxyRecord | None:
        """The server's own proxy, if it connected one (read now: every process sees a change
        at once)."""
        if guild_id is None:
            return None
        record = await self.repo.current(guild_id)
        if record is not None:
            self._records.setdefault(record.id, record)
        return record

    async def for_guild(self, guild_id: int | None) -> ProxyHandle:
        """The proxy new jobs of this server go to; refused when it has none to use."""
        record = await self.current(guild_id)
        if record is not None:
            handle = self._handle(record)
            if handle is None:
                raise UserFacingError("proxies.unusable")
            return handle
        if self.default is None:
            raise UserFacingError("proxies.not_configured")
        return self._default

    async def for_job(self, job: JobRecord) -> ProxyHandle:
        """The proxy the job was submitted to (its children go there too)."""
        if job.proxy_id is None:
            return self._default
        record = await self._record(job.proxy_id)
        handle = self._handle(record) if record is not None else None
        if handle is None:
            raise UserFacingError("proxies.unusable")
        return handle

    async def for_click(self, parent: JobRecord) -> ProxyHandle:
        """Where a click on `parent`'s buttons is submitted: where its task lives. A job of the
        operator's proxy takes no new clicks once servers may not use it; a job of a server's
        own proxy none once the server disconnected it (`/mjadmin api clear`: moderators do
        that to stop what it costs). A proxy replaced by another keeps its old results' clicks:
        their tasks live there, and the server still holds that key."""
        if parent.proxy_id is None and self.default is None:
            raise UserFacingError("proxies.not_configured")
        if parent.proxy_id is not None and await self.current(parent.guild_id) is None:
            raise UserFacingError("proxies.disconnected")
        return await self.for_job(parent)

    async def raw_task(self, job: JobRecord) -> Any:
        """What the job's proxy says of its task now, as it says it (None: it does not know
        it); one try, for a moderator reading "Job info"."""
        if job.task_id is None:
            return None
        handle = await self.for_job(job)
        return await handle.api.fetch_raw(job.task_id, retries=0, read_timeout=RAW_READ_SECONDS)

    def known(self, job: JobRecord) -> ProxyHandle | None:
        """`for_job` without a database read (None until the job's proxy was loaded)."""
        if job.proxy_id is None:
            return self._default
        record = self._records.get(job.proxy_id)
        return self._handle(record) if record is not None else None

    def _handle(self, record: ProxyRecord) -> ProxyHandle | None:
        handle = self._handles.get(record.id)
        if handle is not None:
            return handle
        if self.keybox is None:
            self._unusable_once(record, "security.secret_key is not set")
            return None
        try:
            api_key = self.keybox.decrypt(record.key_encrypted)
        except KeyBoxError as exc:
            self._unusable_once(record, str(exc))
            return None
        remember_secret(api_key)
        endpoint = Endpoint(
            record.base_url,
            record.path_prefix,
            api_key,
            cast(AuthStyle, record.auth_style),
            cast(Backend, record.backend),
        )
        shared = self._by_identity.get(endpoint.identity)
        if shared is None:
            transport = self._make_transport() if self._make_transport else None
            api = self.client(endpoint, transport=self.guarded(transport))
            tracker = self._make_tracker(api)
            tracker.listener = self.listener
            tracker.health.alert = self._alert
            tracker.health.log_templates = own_log_templates(record)
            if self._started:
                tracker.start()
            shared = ProxyHandle(record.id, endpoint, api, tracker)
            self._by_identity[endpoint.identity] = shared
        handle = ProxyHandle(record.id, endpoint, shared.api, shared.tracker)
        self._handles[record.id] = handle
        return handle

    def _unusable_once(self, record: ProxyRecord, why: str) -> None:
        if record.id not in self._unusable:
            self._unusable.add(record.id)
            log.error(
                "the own proxy of guild %s (proxy %s) cannot be used: %s",
                record.guild_id,
                record.id,
                why,
            )

    def guarded(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport:
        """The transport for a server's own proxy: public addresses only, checked per request
        (bot/public_transport.py), unless the operator allows private ones."""
        return guard_transport(transport or LazyTransport(), self._settings.security)

    def client(
        self,
        endpoint: Endpoint,
        *,
        max_read_retries: int = 3,
        timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> MidjourneyClient:
        limit = self._settings.midjourney.request_timeout_seconds
        return MidjourneyClient(
            endpoint.base_url,
            endpoint.path_prefix,
            endpoint.api_key,
            endpoint.auth_style,
            timeout=min(limit, timeout) if timeout else limit,
            max_read_retries=max_read_retries,
            transport=transport,
        )

    # ---- what the presenter needs of a job --------------------------------------------------
    def backend_of(self, job: JobRecord) -> Backend:
        handle = self.known(job)
        return handle.backend if handle is not None else self._default.backend

    def origin_of(self, job: JobRecord) -> str:
        """The address whose loopback and private media the job's download may fetch: the
        operator's proxy, or a server's own when the operator allows private ones ("" = none,
        every media address must be public)."""
        handle = self.known(job)
        if handle is None:
            return self._default.base_url
        if handle.ref is not None and not self._settings.security.allow_private_proxies:
            return ""
        return handle.base_url

    def notice(self, job: JobRecord) -> str | None:
        handle = self.known(job)
        return (handle or self._default).tracker.health.notice

    # ---- the trackers, as one ---------------------------------------------------------------
    async def follow(self, job: JobRecord) -> None:
        try:
            handle = await self.for_job(job)
        except UserFacingError:
            self._stranded_tracker(job).follow(job)  # logged once by _handle
            return
        handle.tracker.follow(job)

    def _stranded_tracker(self, job: JobRecord) -> Tracker:
        """A job whose proxy's key cannot be read (secret key missing or changed): its server's
        moderators are told its key is refused, and it fails at its deadline, not never."""
        proxy_id = job.proxy_id or 0
        tracker = self._stranded.get(proxy_id)
        if tracker is None:
            tracker = self._stranded[proxy_id] = self._make_tracker(UnreadableKey())
            tracker.listener = self.listener
            tracker.health.alert = self._alert
            if self._started:
                tracker.start()
        return tracker

    def unfollow(self, task_id: str) -> None:
        for tracker in self.trackers:
            tracker.unfollow(task_id)

    def wake(self, task_id: str | None = None) -> None:
        for tracker in self.trackers:
            tracker.wake(task_id)

    async def cancel(self, task_id: str) -> bool:
        """Cancel at the proxy the task's job was submitted to (it is unfollowed already)."""
        job = await self._jobs.get_by_task_id(task_id)
        handle = self._default
        if job is not None:
            try:
                handle = await self.for_job(job)
            except UserFacingError:
                return False  # its key cannot be read: nothing can be asked of its proxy
        return await handle.api.cancel(task_id)

    async def resume(self, scope: ShardScope = ALL_SHARDS) -> list[JobRecord]:
        """Follow every unfinished job of `scope`'s guilds at its own proxy."""
        jobs = await self._jobs.unfinished(scope)
        for job in jobs:
            await self.follow(job)
        return jobs

    def set_listener(self, listener: JobListener) -> None:
        self.listener = listener
        for tracker in self.trackers:
            tracker.listener = listener

    def start(self) -> None:
        self._started = True
        for tracker in self.trackers:
            tracker.start()

    async def stop(self) -> None:
        await asyncio.gather(*(t.stop() for t in self.trackers))

    async def aclose(self) -> None:
        """Close the servers' clients (the default one belongs to the caller)."""
        for handle in self._by_identity.values():
            if handle is not self._default:
                await handle.api.aclose()

    async def _alert(self, guild_id: int, key: str) -> None:
        if self.alert is None:
            return
        if await self.current(guild_id) is not None:
            key = OWN_PROXY_ALERTS.get(key, key)
        await self.alert(guild_id, key)

    # ---- changes (bot/proxy_admin.py checks the moderator and audits) ----------------------
    async def save(self, guild_id: int, endpoint: Endpoint, actor_id: int) -> ProxyRecord:
        if self.keybox is None:
            raise UserFacingError("proxies.no_secret_key")
        from bot.keys import key_hint

        remember_secret(endpoint.api_key)
        record = await self.repo.add(
            guild_id,
            base_url=endpoint.base_url,
            path_prefix=endpoint.path_prefix,
            auth_style=endpoint.auth_style,
            backend=endpoint.backend,
            key_encrypted=self.keybox.encrypt(endpoint.api_key),
            key_hint=key_hint(endpoint.api_key),
            created_by=actor_id,
        )
        self._records[record.id] = record
        return record

    async def clear(self, guild_id: int) -> bool:
        return await self.repo.clear(guild_id)

    def endpoint_of(self, record: ProxyRecord) -> Endpoint | None:
        handle = self._handle(record)
        return handle.endpoint if handle is not None else None
