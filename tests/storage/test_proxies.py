"""ProxyRepository: servers' own proxies, on every engine."""

from __future__ import annotations

from storage import Repositories
from storage.proxies import ProxyRepository, own_proxy_jobs
from tests.storage.support import T0, FakeClock, add_proxy, new_job


async def test_a_new_proxy_becomes_the_servers_and_old_ones_stay(
    repos: Repositories, clock: FakeClock
) -> None:
    proxies = ProxyRepository(repos.db)
    first = await add_proxy(proxies, 1, "https://a.example")
    clock.advance(1)
    second = await add_proxy(proxies, 1, "https://b.example")
    other = await add_proxy(proxies, 2, "https://c.example")
    assert second.id > first.id and second.created_at == T0 + 1
    assert await proxies.current(1) == second
    assert await proxies.get(first.id) == first
    assert await proxies.current(2) == other
    assert sorted(p.id for p in await proxies.all()) == [first.id, second.id, other.id]
    assert await proxies.clear(1) and not await proxies.clear(1)
    assert await proxies.current(1) is None
    assert await proxies.get(second.id) == second


async def test_reencrypt_all_and_own_proxy_jobs(repos: Repositories) -> None:
    proxies = ProxyRepository(repos.db)
    proxy = await add_proxy(proxies, 1, "https://a.example")
    assert await proxies.reencrypt_all(lambda key: key.upper()) == 1
    assert (await proxies.get(proxy.id)).key_encrypted == "ENC-HTTPS://A.EXAMPLE"  # type: ignore[union-attr]
    await new_job(repos)  # the operator's proxy
    mine = await new_job(repos, action="upscale")
    await repos.db.execute("UPDATE jobs SET proxy_id = ? WHERE id = ?", (proxy.id, mine.id))
    assert await own_proxy_jobs(repos.db, 1, T0) == {"upscale": 1}


async def test_purge_unused_deletes_only_proxies_nobody_uses(
    repos: Repositories, clock: FakeClock
) -> None:
    """A proxy goes, with its key, once no server uses it and no kept job points at it."""
    proxies = ProxyRepository(repos.db)
    replaced = await add_proxy(proxies, 1, "https://old.example")  # its job is still kept
    job = await new_job(repos)
    await repos.db.execute("UPDATE jobs SET proxy_id = ? WHERE id = ?", (replaced.id, job.id))
    never_used = await add_proxy(proxies, 1, "https://typo.example")  # replaced, no job
    current = await add_proxy(proxies, 1, "https://new.example")
    cleared = await add_proxy(proxies, 2, "https://gone.example")
    assert await proxies.clear(2)

    assert await proxies.purge_unused() == 2
    assert await proxies.get(never_used.id) is None and await proxies.get(cleared.id) is None
    assert await proxies.get(replaced.id) == replaced
    assert await proxies.current(1) == current

    await repos.jobs.complete(job.id, state="success")
    clock.advance(100 * 86_400)
    assert await repos.jobs.purge_finished_before(clock() - 86_400) == 1
    assert await proxies.purge_unused() == 1
    assert await proxies.get(replaced.id) is None
    assert await proxies.current(1) == current and await proxies.purge_unused() == 0
