"""Which addresses the bot may fetch media from, and where a loopback media address really is.

A proxy (or whoever controls what it returns) chooses the media URLs the bot downloads and posts
into Discord. So a host is resolved once, every address it resolves to must be a public one, and
the connection goes to the address that was checked (no second lookup a DNS rebinding could
answer differently). The configured proxy's own origin is the one exception: operators run the
proxy on the same machine or a private network, and its images must still load.

new-api rewrites media URLs to `<ServerAddress>/mj/image/<id>`, and its ServerAddress defaults to
`http://localhost:3000`. A loopback media address that is not the proxy's own origin is such a
default (or a hostile address): it is fetched from the proxy's origin instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.media.kinds import ImageError

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
# The proxy origins whose loopback media was reported: once per process, however many guards.
_WARNED: set[str] = set()
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for host (TCP)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def ip_of(host: str) -> IPAddress | None:
    """The host as an IP address when it is one (IPv6 brackets and zone ids tolerated)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address: not loopback, private, link-local (cloud metadata
    169.254.169.254), shared (100.64/10), unspecified, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
    return address.is_global and not address.is_multicast


def is_local_host(host: str) -> bool:
    """A name or address that means "this machine": loopback or unspecified."""
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    address = ip_of(name)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: the URL as given and the checked addresses to connect to (tried
    in order, IPv4 first, as a host with no IPv6 route would otherwise fail)."""

    url: httpx.URL
    addresses: tuple[str, ...]


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


class AddressGuard:
    """Resolves media hosts, refuses internal addresses except the proxy's own origin."""

    def __init__(
        self,
        proxy_base_url: str,
        *,
        resolve: Resolver = system_resolve,
        setting: str = "midjourney.base_url",
    ) -> None:
        self._proxy = httpx.URL(proxy_base_url)
        self._resolve = resolve
        self._setting = setting  # where the operator finds the proxy's address, for the log

    def _is_proxy_origin(self, url: httpx.URL) -> bool:
        proxy = self._proxy
        if _port(url) != _port(proxy):
            return False
        host, proxy_host = url.host.lower(), proxy.host.lower()
        if host == proxy_host:
            return True
        # localhost and 127.0.0.1 on the proxy's port are the same local server.
        return is_local_host(host) and is_local_host(proxy_host)

    def relocate(self, url: httpx.URL) -> httpx.URL:
        """A loopback media URL that is not the proxy's origin, moved onto the proxy's origin."""
        if not is_local_host(url.host) or self._is_proxy_origin(url):
            return url
        moved = url.copy_with(
            scheme=self._proxy.scheme, host=self._proxy.host, port=self._proxy.port
        )
        origin = str(self._proxy.copy_with(path="/", query=None, fragment=None))
        if origin not in _WARNED:
            _WARNED.add(origin)
            log.warning(
                "the proxy gives media addresses on this machine's loopback (%s://%s:%s), not its "
                "own address: fetching them from %s://%s:%s (%s) instead. On "
                "new-api, set the server address (System settings -> ServerAddress) to the "
                "address the bot reaches it by.",
                url.scheme,
                url.host,
                _port(url),
                self._proxy.scheme,
                self._proxy.host,
                _port(self._proxy),
                self._setting,
            )
        return moved

    async def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        literal = ip_of(url.host)
        if literal is not None:
            return [literal]
        try:
            found = await self._resolve(url.host, _port(url))
        except (OSError, UnicodeError):
            raise ImageError(
                "image.download_failed", "The media host name could not be resolved."
            ) from None
        return [a for a in (ip_of(address) for address in found) if a is not None]

    async def _is_proxy_address(self, url: httpx.URL, addresses: list[IPAddress]) -> bool:
        """The proxy's own server under another name (its IP where base_url has a name)."""
        if _port(url) != _port(self._proxy) or not self._proxy.host:
            return False
        try:
            proxy = set(await self._addresses(self._proxy))
        except ImageError:
            return False
        return all(a in proxy for a in addresses if not is_public(a))

    async def check(self, url: httpx.URL) -> Target:
        """Resolve url's host once and return the addresses to connect to, or refuse it."""
        parsed = await self._addresses(url)
        if not parsed:
            raise ImageError("image.download_failed", "The media host name has no address.")
        allowed = self._is_proxy_origin(url) or all(is_public(a) for a in parsed)
        if not allowed and not await self._is_proxy_address(url, parsed):
            raise ImageError(
                "image.blocked_address",
                "The media address points into a private network; it is not fetched.",
                {"host": url.host},
            )
        ordered = sorted(parsed, key=lambda a: a.version)  # stable: the resolver's order
        return Target(url, tuple(str(a) for a in ordered))


def pinned_request(client: httpx.AsyncClient, url: httpx.URL, address: str) -> httpx.Request:
    """A GET of url sent to the checked address: Host header and TLS name stay the URL's."""
    request = client.build_request(
        "GET",
        url.copy_with(host=address),
        headers={"Host": url.netloc.decode("ascii")},
    )
    if url.scheme == "https":
        request.extensions["sni_hostname"] = url.host
    return request
