"""A server's own proxy is reached only at public addresses, checked as each request is sent
(DNS rebinding after `/mjadmin api set` checked the name once)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.config import MidjourneySettings, SecuritySettings, Settings, StorageSettings
from bot.media.final import FinalMedia
from bot.media.kinds import ImageError
from bot.proxy_endpoint import Endpoint
from bot.public_transport import PrivateAddressError, PublicOnlyTransport, guard_transport
from bot.runtime import build_services
from bot.transport import LazyTransport
from tests.bot.factories import job

GUILD = 1_300_000_000_000 << 22
PUBLIC = "8.8.8.8"
PUBLIC_V6 = "2001:4860:4860::8888"


class Dns:
    """A resolver whose answers the test changes, counting the lookups."""

    def __init__(self, *answer: str) -> None:
        self.answer = list(answer)
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        if not self.answer:
            raise OSError("no such host")
        return list(self.answer)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(dns: Dns, sent: list[httpx.Request], clock: Clock | None = None) -> httpx.AsyncClient:
    def record(request: httpx.Request) -> httpx.Response:
        # As it leaves: the transport gives the request its configured URL back afterwards.
        sent.append(
            httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                extensions=dict(request.extensions),
            )
        )
        return httpx.Response(200, json=[])

    transport = PublicOnlyTransport(
        httpx.MockTransport(record), resolve=dns, ttl=30.0, clock=clock or Clock()
    )
    return httpx.AsyncClient(transport=transport)


async def test_a_public_name_is_connected_to_at_the_address_that_was_checked() -> None:
    dns, sent = Dns(PUBLIC), []
    async with client(dns, sent) as http:
        answer = await http.post("https://proxy.example:8443/mj/task/list-by-condition", json={})
    assert answer.status_code == 200
    assert answer.request.url.host == "proxy.example"  # what logs and errors name
    (request,) = sent
    assert request.url.host == PUBLIC and request.url.port == 8443
    assert request.url.path == "/mj/task/list-by-condition"
    assert request.headers["Host"] == "proxy.example:8443"  # the proxy still sees its name
    assert request.extensions["sni_hostname"] == "proxy.example"  # and TLS checks its name


async def test_plain_http_sends_no_tls_name() -> None:
    dns, sent = Dns(PUBLIC_V6), []
    async with client(dns, sent) as http:
        await http.get("http://proxy.example/mj/task/1/fetch")
    assert sent[0].url.host == PUBLIC_V6 and "sni_hostname" not in sent[0].extensions
    assert sent[0].headers["Host"] == "proxy.example"


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],  # cloud metadata
        ["10.0.0.7"],
        ["::1"],
        ["::ffff:192.168.1.1"],
        [PUBLIC, "192.168.1.10"],  # one private address is enough to refuse
    ],
)
async def test_a_name_that_resolves_into_a_private_network_is_refused_unsent(
    answer: list[str],
) -> None:
    dns, sent = Dns(*answer), []
    async with client(dns, sent) as http:
        with pytest.raises(PrivateAddressError):
            await http.get("https://proxy.example/mj/task/1/fetch")
    assert sent == []


async def test_a_rebound_name_is_refused_once_the_checked_answer_expires(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dns, sent, clock = Dns(PUBLIC), [], Clock()
    async with client(dns, sent, clock) as http:
        await http.get("https://proxy.example/mj/task/1/fetch")
        dns.answer = ["127.0.0.1"]  # the name's owner answers differently now
        clock.now += 10
        await http.get("https://proxy.example/mj/task/2/fetch")  # the checked answer, kept
        assert [r.url.host for r in sent] == [PUBLIC, PUBLIC] and dns.lookups == 1
        clock.now += 30
        with caplog.at_level(logging.WARNING, logger="bot.public_transport"):
            for _ in range(3):
                with pytest.raises(PrivateAddressError):
                    await http.get("https://proxy.example/mj/task/3/fetch")
    assert len(sent) == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [  # once, however often it is tried
        "refused a request to a server's own proxy: proxy.example resolves to 127.0.0.1, not a "
        "public address (security.allow_private_proxies is off)"
    ]


async def test_literal_addresses_are_checked_without_a_lookup() -> None:
    dns, sent = Dns(), []
    async with client(dns, sent) as http:
        await http.get(f"http://{PUBLIC}:8080/mj/task/1/fetch")
        with pytest.raises(PrivateAddressError):
            await http.get("http://127.0.0.1:8080/mj/task/1/fetch")
    assert dns.lookups == 0 and [r.url.host for r in sent] == [PUBLIC]


async def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    dns, sent = Dns(), []
    async with client(dns, sent) as http:
        with pytest.raises(httpx.ConnectError, match="could not be resolved"):
            await http.get("https://gone.example/mj/task/1/fetch")
    assert sent == []


def test_servers_own_proxies_get_the_guard_unless_private_ones_are_allowed() -> None:
    inner = LazyTransport()
    assert isinstance(guard_transport(inner, SecuritySettings()), PublicOnlyTransport)
    allowed = SecuritySettings(allow_private_proxies=True)
    assert guard_transport(inner, allowed) is inner


@pytest.mark.parametrize("allowed", [False, True])
async def test_a_servers_proxy_polls_through_the_guard_and_vouches_for_no_private_media(
    tmp_path: Path, allowed: bool
) -> None:
    """Its client checks every request's address, and its origin no longer exempts media on
    private addresses (the operator's proxy keeps both: operators run it on their network)."""
    settings = Settings(
        midjourney=MidjourneySettings(base_url="http://127.0.0.1:9", api_key="k"),  # type: ignore[arg-type]
        storage=StorageSettings(path=str(tmp_path / "db.sqlite3")),
        security=SecuritySettings(
            secret_key=Fernet.generate_key().decode(),  # type: ignore[arg-type]
            allow_private_proxies=allowed,
        ),
    )
    services = await build_services(settings)
    try:
        await services.proxies.load()
        own = Endpoint("https://proxy.example", "/mj", "sk-own-key-123456", "bearer", "plus")
        record = await services.proxies.save(GUILD, own, actor_id=1)
        handle = await services.proxies.for_guild(GUILD)
        transport = handle.api._http._transport
        assert isinstance(transport, PublicOnlyTransport) is not allowed
        theirs, ours = job(proxy_id=record.id), job(proxy_id=None)
        assert services.proxies.origin_of(theirs) == ("https://proxy.example" if allowed else "")
        assert services.proxies.origin_of(ours) == "http://127.0.0.1:9"
        default = services.proxies._default.api._http._transport
        assert not isinstance(default, PublicOnlyTransport)
    finally:
        await services.stop()


async def test_with_no_origin_vouched_for_loopback_media_is_refused() -> None:
    media = FinalMedia(
        httpx.AsyncClient(),
        proxy_base_url="http://127.0.0.1:9",
        max_download_bytes=1000,
        timeout=1.0,
        origin_of=lambda _job: "",
    )
    guard = media._guard_for(job(proxy_id=3))
    with pytest.raises(ImageError, match="private network"):
        await guard.check(httpx.URL("http://127.0.0.1:9/mj/image/1.png"))
    # The operator's proxy's own origin stays exempt.
    assert (await media._guard.check(httpx.URL("http://127.0.0.1:9/x.png"))).addresses


async def test_an_address_that_cannot_be_reached_gives_way_to_the_next_checked_one() -> None:
    """A dual-stack name: IPv4 first, and the IPv6 address when IPv4 cannot connect."""
    dns, tried = Dns(PUBLIC_V6, PUBLIC), []

    def connect(request: httpx.Request) -> httpx.Response:
        tried.append(request.url.host)
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200, json={"ok": True})

    transport = PublicOnlyTransport(httpx.MockTransport(connect), resolve=dns)
    async with httpx.AsyncClient(transport=transport) as http:
        answer = await http.get("https://proxy.example/mj/task/1/fetch")
        assert answer.json() == {"ok": True} and tried == [PUBLIC, PUBLIC_V6]
        dns.answer = [PUBLIC]
        transport._answers.clear()
        with pytest.raises(httpx.ConnectError, match="unreachable"):
            await http.get("https://proxy.example/mj/task/1/fetch")
