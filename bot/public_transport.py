"""Requests to a server's own proxy go only to public addresses, checked when they are sent.

`/mjadmin api set` refuses an address that resolves into a private network (unless the operator
allows it: `security.allow_private_proxies`), but that check is one DNS answer at one moment. A
name whose owner later answers with 127.0.0.1 or 169.254.169.254 (DNS rebinding) would turn
every poll of that server's jobs into a request, with its key, into the operator's network.
`PublicOnlyTransport` resolves the host itself, refuses the request unless every address is
public, and connects to the address it checked (the Host header and the TLS name stay the URL's),
so there is no second lookup a rebinding could answer differently. Answers are kept for
`ttl` seconds: polls every few seconds need not each wait for the resolver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NoReturn

import httpx

from bot.config import SecuritySettings
from bot.media.addresses import Resolver, ip_of, is_public, system_resolve

log = logging.getLogger(__name__)

RESOLVE_TTL = 30.0


class PrivateAddressError(httpx.ConnectError):
    """The proxy's host name resolves (now) into a private network: nothing was sent."""


class PublicOnlyTransport(httpx.AsyncBaseTransport):
    """`inner`, sent only to a public address of the URL's host (see the module)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        resolve: Resolver = system_resolve,
        ttl: float = RESOLVE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._resolve = resolve
        self._ttl = ttl
        self._clock = clock
        self._answers: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._refused: set[str] = set()  # hosts already logged, once each

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        addresses = await self._public_addresses(request, url.host, url.port or _default_port(url))
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        last = len(addresses) - 1
        try:
            for n, address in enumerate(addresses):  # IPv4 first; the next if one cannot connect
                request.url = url.copy_with(host=address)
                try:
                    return await self._inner.handle_async_request(request)
                except httpx.ConnectError:  # nothing was sent: the next address may be reached
                    if n == last:
                        raise
        finally:
            request.url = url  # the answer and its errors name the proxy as it was configured
        raise httpx.ConnectError(f"{url.host} has no address", request=request)

    async def _public_addresses(
        self, request: httpx.Request, host: str, port: int
    ) -> tuple[str, ...]:
        literal = ip_of(host)
        if literal is not None:
            if not is_public(literal):
                self._refuse(request, host, [str(literal)])
            return (str(literal),)
        now = self._clock()
        kept = self._answers.get((host, port))
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            found = await self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpx.ConnectError(f"{host} could not be resolved", request=request) from exc
        addresses = [ip_of(a) for a in found]
        if not addresses or any(a is None or not is_public(a) for a in addresses):
            self._refuse(request, host, found)
        checked = sorted((a for a in addresses if a is not None), key=lambda a: a.version)
        self._answers[(host, port)] = (now + self._ttl, tuple(str(a) for a in checked))
        self._refused.discard(host)
        return self._answers[(host, port)][1]

    def _refuse(self, request: httpx.Request, host: str, found: list[str]) -> NoReturn:
        if host not in self._refused:
            self._refused.add(host)
            log.warning(
                "refused a request to a server's own proxy: %s resolves to %s, not a public "
                "address (security.allow_private_proxies is off)",
                host,
                ", ".join(found) or "nothing",
            )
        raise PrivateAddressError(f"{host} resolves to a non-public address", request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guard_transport(
    inner: httpx.AsyncBaseTransport, security: SecuritySettings
) -> httpx.AsyncBaseTransport:
    """The transport for a server's own proxy: `inner` behind the public-address check, unless
    the operator allows private proxies (then as it is)."""
    return inner if security.allow_private_proxies else PublicOnlyTransport(inner)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
