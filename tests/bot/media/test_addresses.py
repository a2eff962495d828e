"""Media addresses: internal ranges refused at every hop, the proxy's origin allowed, the checked
address connected to, loopback media moved onto the proxy's origin (new-api's default)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from bot.media.addresses import AddressGuard, is_local_host, is_public
from bot.media.download import download_image
from bot.media.kinds import ImageError
from tests.bot.media.helpers import PNG


@dataclass
class Site:
    base: str
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)


async def start_site(redirect_to: str = "") -> tuple[Site, web.AppRunner]:
    site = Site("", 0)

    async def any_path(request: web.Request) -> web.Response:
        site.requests.append((request.path, request.headers.get("Host", "")))
        if request.path == "/redirect":
            return web.Response(status=302, headers={"Location": redirect_to})
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", any_path)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    site.port = runner.addresses[0][1]
    site.base = f"http://127.0.0.1:{site.port}"
    return site, runner


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site]]:
    """(the proxy, an internal service the proxy's answers point at)."""
    internal, internal_runner = await start_site()
    proxy, proxy_runner = await start_site(redirect_to=f"{internal.base}/secret.png")
    yield proxy, internal
    await proxy_runner.cleanup()
    await internal_runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


class Resolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


async def fetch(client: httpx.AsyncClient, guard: AddressGuard, url: str) -> bytes:
    image = await download_image(client, url, max_bytes=10**6, timeout=10, guard=guard)
    return image.data


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("::", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_local_hosts(host: str, local: bool) -> None:
    assert is_local_host(host) is local


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("http://metadata.test/latest/meta-data/", {"metadata.test": ["169.254.169.254"]}),
        ("http://169.254.169.254/latest/meta-data/", {}),
        ("http://intranet.test/a.png", {"intranet.test": ["10.0.0.7"]}),
        ("http://[fd00:ec2::254]/a.png", {}),
        ("http://[::ffff:a9fe:a9fe]/a.png", {}),
        # One public and one internal answer: refused, whichever would be used.
        ("http://mixed.test/a.png", {"mixed.test": ["93.184.216.34", "192.168.0.10"]}),
    ],
)
async def test_internal_addresses_are_refused_before_connecting(
    url: str, answers: dict[str, list[str]]
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=PNG)

    guard = AddressGuard("https://proxy.example.com", resolve=Resolver(answers))
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
        with pytest.raises(ImageError) as info:
            await fetch(http, guard, url)
    assert info.value.key == "image.blocked_address"
    assert sent == []


async def test_the_proxy_origin_is_allowed_on_loopback(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    proxy, _ = sites
    guard = AddressGuard(proxy.base)
    assert await fetch(client, guard, f"{proxy.base}/mj/image/1") == PNG


async def test_other_loopback_services_are_refused_at_a_redirect(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    proxy, internal = sites
    guard = AddressGuard(proxy.base)
    with pytest.raises(ImageError) as info:
        await fetch(client, guard, f"{proxy.base}/redirect")
    assert info.value.key == "image.blocked_address"
    assert [path for path, _ in proxy.requests] == ["/redirect"]
    assert internal.requests == []


async def test_a_public_name_resolving_to_loopback_is_refused(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    proxy, internal = sites
    guard = AddressGuard(proxy.base, resolve=Resolver({"cdn.test": ["127.0.0.1"]}))
    with pytest.raises(ImageError) as info:
        await fetch(client, guard, f"http://cdn.test:{internal.port}/a.png")
    assert info.value.key == "image.blocked_address"
    assert internal.requests == []


async def test_the_checked_address_is_the_one_connected_to(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    # "proxy.test" exists only in this resolver: had httpx resolved the name itself, the
    # request could not have connected. One lookup per hop, nothing left to rebind.
    proxy, _ = sites
    resolver = Resolver({"proxy.test": ["127.0.0.1"]})
    guard = AddressGuard(f"http://proxy.test:{proxy.port}", resolve=resolver)
    assert await fetch(client, guard, f"http://proxy.test:{proxy.port}/mj/image/7") == PNG
    assert resolver.calls == ["proxy.test"]
    assert proxy.requests == [("/mj/image/7", f"proxy.test:{proxy.port}")]


async def test_loopback_media_is_fetched_from_the_proxy_origin_with_one_warning(
    sites: tuple[Site, Site], client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # new-api's ServerAddress left at its default: media at http://localhost:3000/mj/image/<id>.
    proxy, internal = sites
    resolver = Resolver({"proxy.test": ["127.0.0.1"]})
    guard = AddressGuard(f"http://proxy.test:{proxy.port}", resolve=resolver)
    another = AddressGuard(f"http://proxy.test:{proxy.port}", resolve=resolver)
    with caplog.at_level(logging.WARNING, logger="bot.media.addresses"):
        assert await fetch(client, guard, "http://localhost:3000/mj/image/1?x=1") == PNG
        assert await fetch(client, another, f"http://127.0.0.1:{internal.port}/mj/image/2") == PNG
    assert [path for path, _ in proxy.requests] == ["/mj/image/1", "/mj/image/2"]
    assert internal.requests == []
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "localhost:3000" in warning.getMessage()
    assert "midjourney.base_url" in warning.getMessage()
    assert "ServerAddress" in warning.getMessage()


async def test_localhost_on_the_proxy_port_is_the_proxy(
    sites: tuple[Site, Site], client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, _ = sites
    guard = AddressGuard(proxy.base)
    with caplog.at_level(logging.WARNING, logger="bot.media.addresses"):
        assert await fetch(client, guard, f"http://localhost:{proxy.port}/a.png") == PNG
    assert caplog.records == []


async def test_every_checked_address_is_tried_ipv4_first(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    # The name has an IPv6 address nobody listens on (port closed on ::1) and the proxy's IPv4.
    proxy, _ = sites
    resolver = Resolver({"proxy.test": ["::1", "127.0.0.1"]})
    guard = AddressGuard(f"http://proxy.test:{proxy.port}", resolve=resolver)
    target = await guard.check(httpx.URL(f"http://proxy.test:{proxy.port}/a.png"))
    assert target.addresses == ("127.0.0.1", "::1")
    resolver.answers["proxy.test"] = ["::1", "127.0.0.2", "127.0.0.1"]
    # 127.0.0.2 refuses the connection (nothing listens there); the next address answers.
    assert await fetch(client, guard, f"http://proxy.test:{proxy.port}/b.png") == PNG
    assert [path for path, _ in proxy.requests] == ["/b.png"]


async def test_the_proxy_by_another_name_on_its_port_is_the_proxy(
    sites: tuple[Site, Site], client: httpx.AsyncClient
) -> None:
    # base_url names the proxy (Docker: http://mjproxy:PORT); its media links use its address.
    proxy, internal = sites
    resolver = Resolver({"mjproxy": ["127.0.0.1"], "alias.test": ["127.0.0.1"]})
    guard = AddressGuard(f"http://mjproxy:{proxy.port}", resolve=resolver)
    assert await fetch(client, guard, f"http://alias.test:{proxy.port}/a.png") == PNG
    # The same machine on another port is not the proxy.
    with pytest.raises(ImageError) as info:
        await fetch(client, guard, f"http://alias.test:{internal.port}/a.png")
    assert info.value.key == "image.blocked_address"
    assert internal.requests == []


async def test_a_servers_own_proxy_with_loopback_media_is_named_as_such_in_the_warning(
    sites: tuple[Site, Site], client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The operator would look at midjourney.base_url, which is not the proxy that answered.
    from bot.media.final import FinalMedia
    from tests.bot.factories import job

    proxy, _ = sites
    own = f"http://127.0.0.1:{proxy.port}"
    media = FinalMedia(
        client,
        proxy_base_url="https://operator.example",
        max_download_bytes=1 << 20,
        timeout=5.0,
        origin_of=lambda _: own,
    )
    done = job(state="success", guild_id=42, image_url="http://localhost:3001/mj/image/1")
    with caplog.at_level(logging.WARNING, logger="bot.media.addresses"):
        assert await media.upload_for(done, 1 << 20) is not None
    assert [path for path, _ in proxy.requests] == ["/mj/image/1"]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "(the own proxy of guild 42, /mjadmin api set)" in warning.getMessage()
    assert "midjourney.base_url" not in warning.getMessage()
