"""Helpers shared by the storage tests: a controllable clock, a job and a proxy factory."""

from __future__ import annotations

from storage import JobRecord, Repositories
from storage.proxies import ProxyRecord, ProxyRepository

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


async def new_job(
    repos: Repositories,
    *,
    guild_id: int | None = 1,
    requester_id: int = 10,
    action: str = "imagine",
    prompt: str = "a red fox",
    parent_job_id: int | None = None,
    button_index: int | None = None,
) -> JobRecord:
    return await repos.jobs.create_submitting(
        guild_id=guild_id,
        channel_id=100,
        requester_id=requester_id,
        kind="imagine" if parent_job_id is None else "action",
        action=action,
        prompt=prompt,
        parent_job_id=parent_job_id,
        button_index=button_index,
    )


async def add_proxy(proxies: ProxyRepository, guild_id: int, url: str) -> ProxyRecord:
    """A server's own proxy at `url`, made the server's current one."""
    return await proxies.add(
        guild_id,
        base_url=url,
        path_prefix="/mj",
        auth_style="bearer",
        backend="plus",
        key_encrypted=f"enc-{url}",
        key_hint="abcd",
        created_by=7,
    )
