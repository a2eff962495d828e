"""Limited media downloads: http(s) only, checked addresses at every redirect hop, size and time
limits, checked by content."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from bot.media.addresses import AddressGuard, Target, pinned_request
from bot.media.kinds import DownloadedImage, ImageError, sniff_image
from bot.transport import LazyTransport

_SCHEMES = frozenset({"http", "https"})
MAX_REDIRECTS = 5
Sniffer = Callable[[bytes], str | None]


def make_download_client() -> httpx.AsyncClient:
    """The client media downloads go through: no environment proxies, no automatic redirects,
    and no kept-alive connections (each request connects to the address just checked). Its TLS
    context is built with the first https download, not at start-up."""
    transport = LazyTransport(trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=transport)


def checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ImageError("image.bad_url", "The image address is not a valid URL.") from None
    if parsed.scheme.lower() not in _SCHEMES or not parsed.host:
        raise ImageError(
            "image.bad_url",
            "Only http and https image addresses can be downloaded.",
            {"scheme": parsed.scheme},
        )
    return parsed


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ImageError(
            "image.bad_url", "The image address redirects to an invalid URL."
        ) from None
    return checked_url(str(target))


def too_large(max_bytes: int) -> ImageError:
    mib = f"{max_bytes / 1024 / 1024:.1f}"
    return ImageError(
        "image.too_large", f"The file is larger than {mib} MiB.", {"limit_bytes": max_bytes}
    )


async def _send(
    client: httpx.AsyncClient, guard: AddressGuard | None, url: httpx.URL
) -> httpx.Response:
    if guard is None:
        request = client.build_request("GET", url)
        return await client.send(request, stream=True, follow_redirects=False)
    target = await guard.check(url)
    for address in target.addresses[:-1]:
        try:
            request = pinned_request(client, url, address)
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError:
            continue  # the next checked address
    request = pinned_request(client, url, target.addresses[-1])
    return await client.send(request, stream=True, follow_redirects=False)


async def _fetch(
    client: httpx.AsyncClient,
    guard: AddressGuard | None,
    url: httpx.URL,
    max_bytes: int,
    sniff: Sniffer,
) -> DownloadedImage:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = await _send(client, guard, current)
        try:
            if response.is_redirect:
                # Each hop is checked: no file:// or ftp://, no internal address.
                current = _redirect_target(current, response.headers["location"])
                continue
            if not response.is_success:
                raise ImageError(
                    "image.http_status",
                    f"The media server answered HTTP {response.status_code}.",
                    {"status": response.status_code},
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise too_large(max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise too_large(max_bytes)
        finally:
            await response.aclose()
        data = bytes(body)
        mime = sniff(data)
        if mime is None:
            raise ImageError("image.not_an_image", "The downloaded file is not of the right kind.")
        return DownloadedImage(data, mime, str(current))
    raise ImageError("image.redirects", "The image address redirects too many times.")


async def download_image(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - one limit for all hops and the body, applied inside
    guard: AddressGuard | None = None,
    sniff: Sniffer = sniff_image,
) -> DownloadedImage:
    """An http(s) file of at most `max_bytes` bytes and `timeout` seconds, checked by content
    (`sniff`). With a guard, every hop's address is checked and connected to as checked, and a
    loopback address that is not the proxy's is fetched from the proxy's origin."""
    start = checked_url(url)
    if guard is not None:
        start = guard.relocate(start)
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(client, guard, start, max_bytes, sniff)
    except (TimeoutError, httpx.TimeoutException):
        raise ImageError(
            "image.timeout",
            f"The download took longer than {timeout:g} seconds.",
            {"seconds": timeout},
        ) from None
    except httpx.HTTPError as exc:
        raise ImageError(
            "image.download_failed",
            f"The file could not be downloaded ({type(exc).__name__}).",
        ) from None


__all__ = [
    "MAX_REDIRECTS",
    "AddressGuard",
    "DownloadedImage",
    "ImageError",
    "Target",
    "checked_url",
    "download_image",
    "make_download_client",
    "too_large",
]
