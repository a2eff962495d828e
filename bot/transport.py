"""An httpx transport that loads the CA bundle at its first https request, not at start-up.

httpx builds a verifying TLS context, certifi's CA bundle included, for every client it creates
(about 20 ms and 1-3 MiB each), whether or not the client ever speaks TLS. The bot's clients (the
proxy's, the media downloads') are created at start-up; a proxy on plain http (a local
midjourney-proxy) never needs that context, and downloads need it only with the first final.
`LazyTransport` builds the real transport for a scheme when a request first needs it: https
requests go through an `httpx.AsyncHTTPTransport` built exactly as httpx would (same options),
plain http requests through one whose TLS context is never used (and, having no trusted
certificates, could verify nothing: it fails closed, never open).
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx


@cache
def _no_tls() -> ssl.SSLContext:
    """A context for transports that only carry plain http: it trusts nothing."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class LazyTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncHTTPTransport(**options)`, built on the first https request (see the module)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._plain: httpx.AsyncHTTPTransport | None = None

    @property
    def tls_loaded(self) -> bool:
        return self._tls is not None

    def _for(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        if url.scheme == "http":
            if self._plain is None:
                self._plain = httpx.AsyncHTTPTransport(**{**self._options, "verify": _no_tls()})
            return self._plain
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(**self._options)
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._tls, self._plain):
            if transport is not None:
                await transport.aclose()
