"""`/mjadmin api set|show|test|clear`: a server connects its own proxy, checked like
`mjbot check` before it is saved, and every change goes to its audit channel (never the key)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast, get_args

import httpx

from bot.config import AuthStyle, Backend, Settings
from bot.errors import UserFacingError
from bot.media.addresses import Resolver, ip_of, is_public, system_resolve
from bot.midjourney.probe import probe
from bot.moderation import Change, ModerationService
from bot.proxies import Endpoint, ProxyRegistry, remember_secret
from bot.requester import Requester
from storage.guilds import GuildRepository
from storage.proxies import ProxyRecord

log = logging.getLogger(__name__)

AUTH_STYLES: tuple[str, ...] = get_args(AuthStyle)
BACKENDS: tuple[str, ...] = get_args(Backend)
# The longest a moderator waits for the probe (one try each, like `mjbot check`).
PROBE_TIMEOUT = 15.0
# A key is registered as a secret (redacted everywhere): a very short one would redact words.
MIN_KEY = 8
MAX_KEY = 500


@dataclass(frozen=True)
class ProxyForm:
    """What the moderator typed into the dialog (or its defaults)."""

    base_url: str = ""
    path_prefix: str = "/mj"
    api_key: str = ""
    auth_style: str = "bearer"
    backend: str = "plus"

    def __repr__(self) -> str:
        return f"ProxyForm({self.base_url!r}, {self.path_prefix!r}, {self.auth_style!r})"


@dataclass(frozen=True)
class ProbeAnswer:
    """The probe's plain sentences; `saved` when the proxy was saved (only when it works)."""

    ok: bool
    sentences: list[str] = field(default_factory=list)
    saved: ProxyRecord | None = None


@dataclass(frozen=True)
class ProxyView:
    """`/mjadmin api show`: everything but the key, of which only the last 4 characters."""

    own: bool
    base_url: str
    path_prefix: str
    auth_style: str
    backend: str
    key_hint: str


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise UserFacingError("proxies.bad_url")
    if "@" in rest.split("/", 1)[0] or any(c.isspace() for c in value):
        raise UserFacingError("proxies.bad_url")
    return value


def _prefix(value: str) -> str:
    value = value.strip().strip("/")
    if any(c.isspace() or c in "?#" for c in value):
        raise UserFacingError("proxies.bad_prefix")
    return f"/{value}" if value else ""


def endpoint_of(form: ProxyForm) -> Endpoint:
    """The form checked: plain refusals for what cannot be a proxy."""
    style = form.auth_style.strip().lower()
    if style not in AUTH_STYLES:
        raise UserFacingError("proxies.bad_style", styles=", ".join(AUTH_STYLES))
    backend = form.backend.strip().lower()
    if backend not in BACKENDS:
        raise UserFacingError("proxies.bad_backend", backends=", ".join(BACKENDS))
    key = form.api_key.strip()
    if not MIN_KEY <= len(key) <= MAX_KEY or any(c.isspace() for c in key):
        raise UserFacingError("proxies.bad_key")
    return Endpoint(
        _url(form.base_url),
        _prefix(form.path_prefix),
        key,
        cast(AuthStyle, style),
        cast(Backend, backend),
    )


class ProxyAdmin:
    """The moderators' side of the servers' own proxies; every method checks the moderator."""

    def __init__(
        self,
        registry: ProxyRegistry,
        moderation: ModerationService,
        guilds: GuildRepository,
        settings: Settings,
        *,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._resolve = resolve
        self._registry = registry
        self._moderation = moderation
        self._guilds = guilds
        self._settings = settings

    async def form_defaults(self, who: Requester) -> ProxyForm:
        """What the dialog starts with: the server's proxy (never its key), else the config's."""
        self.ensure_can_set(who)
        record = await self._registry.current(who.guild_id)
        if record is not None:
            return ProxyForm(
                record.base_url, record.path_prefix, "", record.auth_style, record.backend
            )
        mj = self._settings.midjourney
        return ProxyForm("", mj.path_prefix or "/mj", "", mj.auth_style, mj.backend)

    def ensure_can_set(self, who: Requester) -> int:
        guild_id = self._moderation.guild_of(who)
        if self._registry.keybox is None:
            raise UserFacingError("proxies.no_secret_key")
        return guild_id

    async def set(self, who: Requester, form: ProxyForm) -> ProbeAnswer:
        """Probe the proxy (no submit); save it only when it works, and audit the change."""
        guild_id = self.ensure_can_set(who)
        endpoint = endpoint_of(form)
        await self._check_address(endpoint.base_url)
        remember_secret(endpoint.api_key)  # a proxy's answer may echo it
        answer = await self._probe(endpoint)
        if not answer.ok:
            log.info("guild %s: a proxy was tried and not saved (%s)", guild_id, endpoint)
            return answer
        record = await self._registry.save(guild_id, endpoint, who.user_id)
        await self._audit(who, "api.set", _describe(record))
        return ProbeAnswer(True, answer.sentences, record)

    async def show(self, who: Requester) -> ProxyView | None:
        """The server's proxy, the operator's default, or None when it has none to use."""
        self._moderation.guild_of(who)
        record = await self._registry.current(who.guild_id)
        if record is not None:
            return ProxyView(
                True,
                record.base_url,
                record.path_prefix,
                record.auth_style,
                record.backend,
                record.key_hint,
            )
        default = self._registry.default
        if default is None:
            return None
        endpoint = default.endpoint
        return ProxyView(
            False,
            endpoint.base_url,
            endpoint.path_prefix,
            endpoint.auth_style,
            endpoint.backend,
            "",
        )

    async def test(self, who: Requester) -> ProbeAnswer:
        """Probe the proxy this server's new jobs go to, again."""
        self._moderation.guild_of(who)
        handle = await self._registry.for_guild(who.guild_id)
        return await self._probe(handle.endpoint)

    async def clear(self, who: Requester) -> Change:
        guild_id = self._moderation.guild_of(who)
        if not await self._registry.clear(guild_id):
            raise UserFacingError("proxies.clear.none")
        key = "proxies.clear.default" if self._registry.default else "proxies.clear.unconfigured"
        return await self._audit(who, "api.clear", "", key)

    async def _check_address(self, base_url: str) -> None:
        """Any server's moderator may type an address: unless the operator allows it, it must
        be public, not the bot's own machine or network (cloud metadata, admin ports)."""
        if self._settings.security.allow_private_proxies:
            return
        url = httpx.URL(base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = ip_of(url.host)
        try:
            found = [str(literal)] if literal else await self._resolve(url.host, port)
        except (OSError, UnicodeError):
            raise UserFacingError("proxies.address.unresolvable", host=url.host) from None
        addresses = [ip_of(a) for a in found]
        if not addresses or any(a is None or not is_public(a) for a in addresses):
            log.warning("refused a server proxy on a non-public address (%s)", url.host)
            raise UserFacingError("proxies.address.private")

    async def _probe(self, endpoint: Endpoint) -> ProbeAnswer:
        client = self._registry.client(
            endpoint,
            max_read_retries=0,
            timeout=PROBE_TIMEOUT,
            transport=self._registry.guarded(None),  # the address is checked again as sent
        )
        async with client:
            result = await probe(client)
        return ProbeAnswer(result.ok, list(result.sentences))

    async def _audit(self, who: Requester, what: str, detail: str, key: str = "") -> Change:
        assert who.guild_id is not None
        entry = await self._guilds.add_audit(who.guild_id, who.user_id, what, detail)
        log.info("guild %s: moderator %s %s %s", who.guild_id, who.user_id, what, detail)
        if self._moderation.on_change is not None:
            await self._moderation.on_change(entry)
        return Change(entry, key or "proxies.set.saved")


def _describe(record: ProxyRecord) -> str:
    return f"{record.base_url}{record.path_prefix} ({record.auth_style}, {record.backend})"
