"""Two real bot processes, one shard each, sharing one PostgreSQL database (issue 16 item 5).

`python -m bot run` twice (shard_count 2, shard_ids [0] and [1]) against one fake Discord that
routes each guild's events to the session whose shard owns it, as Discord does, and one proxy
simulator. Skipped without PostgreSQL binaries, failed on CI (the `postgres_url` fixture).

About the quota burst. Discord delivers every interaction of a guild to the one session whose
shard owns the guild, and every quota of mjbot belongs to one guild (a member's daily units
and the guild cap are per guild), so on Discord the clicks that race for one quota always
reach one process. Two tests state what holds across processes, each as it can happen:
`test_a_burst_over_both_processes` sends 20 simultaneous /imagine through Discord, 10 to each
process (one guild per shard), against a quota of 5 units per member: each process submits
exactly 5 while both write to the one database. `test_one_quota_raced_by_two_processes` is the
race Discord never delivers but the database must still win (a hand-over, a script, a bug):
two OS processes, each with the bot's real services, make 10 simultaneous /imagine each for
one member of one guild whose quota is 5, and exactly 5 reach the proxy.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.midjourney.simulator import Simulator
from tests.e2e.harness import KEY
from tests.e2e.steps import JOB_SECONDS, wait_final
from tests.e2e.test_restart import ROOT, BotProcess
from tests.e2e.test_shard_scope import two_shards
from tests.fakes.discord import FakeDiscord, Guild

CONNECT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Shards:
    """Writes one config per process and starts, kills and asks them."""

    def __init__(
        self, fake: FakeDiscord, sim: Simulator, url: str, folder: Path, guilds: list[Guild]
    ) -> None:
        self.fake, self.sim, self.url, self.folder, self.guilds = fake, sim, url, folder, guilds
        self.running: list[BotProcess] = []

    def config(self, ids: list[int], *, quota: int = 25, name: str = "") -> tuple[Path, int]:
        port = free_port()
        path = self.folder / f"shards-{name or '-'.join(map(str, ids))}-{port}.toml"
        path.write_text(
            f"""
[discord]
token = "{self.fake.token}"
api_base_url = "{self.fake.api_base_url}"
gateway_url = "{self.fake.gateway_url}"
guild_ids = [{", ".join(str(g.id) for g in self.guilds)}]
shard_count = 2
shard_ids = {ids}

[midjourney]
base_url = "{self.sim.base_url}"
path_prefix = "{self.sim.prefix}"
api_key = "{KEY}"
auth_style = "mj-api-secret"
poll_interval_seconds = 0.05

[storage]
url = "{self.url}"

[jobs]
edit_interval_seconds = 0.0

[quota]
daily_quota = {quota}
max_jobs_per_user = 0
max_jobs_per_guild = 0

[metrics]
enabled = true
port = {port}
""",
            encoding="utf-8",
        )
        return path, port

    def _synced(self) -> bool:
        """Every guild has its commands (from this process or an earlier one, as on Discord)."""
        return all(self.fake.commands.get(g.id) for g in self.guilds)

    async def start(self, ids: list[int], **options: Any) -> tuple[BotProcess, int]:
        path, port = self.config(ids, **options)
        process = await BotProcess.start(path)
        self.running.append(process)
        wanted = {(i, 2) for i in ids}
        # Connected, and the commands registered (each process syncs them beside its connection).
        await self.fake.wait_for(
            lambda: (
                (wanted <= self.fake.gateway.connected_shards() and self._synced())
                or process.process.returncode is not None
            ),
            timeout=CONNECT_SECONDS,
        )
        assert process.process.returncode is None, "\n".join(process.lines)
        return process, port

    async def stop_all(self) -> None:
        for process in self.running:
            if process.process.returncode is None:
                await process.kill()


@pytest.fixture
async def shards(
    fake_discord: FakeDiscord, sim: Simulator, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Shards]:
    zero, one = two_shards(fake_discord)
    made = Shards(fake_discord, sim, postgres_url, tmp_path, [zero, one])
    try:
        yield made
    finally:
        await made.stop_all()


async def health(port: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            body: dict[str, Any] = await response.json()
            return body


async def imagine(fake: FakeDiscord, guild: Guild, prompt: str, member: int = 0) -> Any:
    handle = await fake.slash(
        "imagine",
        {"prompt": prompt},
        guild_id=guild.id,
        channel_id=guild.channels[0].id,
        user=guild.members[member].user,
    )
    await handle.wait_response(timeout=15)
    return handle


async def job_message(fake: FakeDiscord, guild: Guild, prompt: str) -> dict[str, Any]:
    return await fake.wait_message(
        lambda m: (
            m.get("channel_id") == str(guild.channels[0].id)
            and prompt in m.get("content", "")
            and not m.get("flags", 0) & 64
        ),
        timeout=15,
    )


async def followed(port: int, count: int) -> None:
    """Until the process behind `port` follows `count` tasks (its /healthz)."""
    for _ in range(300):
        if (await health(port))["followed_tasks"] == count:
            return
        await asyncio.sleep(0.05)  # polling an HTTP endpoint of another process
    raise AssertionError(f"the process never followed {count} tasks: {await health(port)}")


async def test_each_guild_is_served_by_its_shards_process_and_jobs_survive_a_kill(
    shards: Shards, fake_discord: FakeDiscord, sim: Simulator
) -> None:
    zero, one = shards.guilds
    first, first_port = await shards.start([0])
    second, second_port = await shards.start([1])
    await imagine(fake_discord, zero, "a lighthouse at dusk")
    await imagine(fake_discord, one, "a harbour at dawn")
    lighthouse = await job_message(fake_discord, zero, "a lighthouse at dusk")
    harbour = await job_message(fake_discord, one, "a harbour at dawn")
    # Each process follows (polls, renders) only its own guild's job.
    await followed(first_port, 1)
    await followed(second_port, 1)

    # kill -9 the process of shard 1 mid-job; the job ends while nobody runs shard 1.
    await second.kill()
    await fake_discord.wait_for(lambda: (1, 2) not in fake_discord.gateway.connected_shards())
    sim.advance(JOB_SECONDS)
    final = await wait_final(fake_discord, int(lighthouse["id"]))  # shard 0 went on
    assert final["attachments"]
    assert not fake_discord.messages[int(harbour["id"])].get("attachments")

    # The same shard started again picks its unfinished job up (from PostgreSQL).
    again, again_port = await shards.start([1])
    assert (await wait_final(fake_discord, int(harbour["id"])))["attachments"]
    await followed(again_port, 0)

    # A job whose shard moves to another process is picked up there after a restart: a new
    # job on shard 1, kill its process, and start shard 0's process again with both shards.
    await imagine(fake_discord, one, "a ferry in fog")
    ferry = await job_message(fake_discord, one, "a ferry in fog")
    await followed(again_port, 1)
    await again.kill()
    assert await first.terminate() == 0
    both, both_port = await shards.start([0, 1])
    await followed(both_port, 1)
    sim.advance(JOB_SECONDS)
    assert (await wait_final(fake_discord, int(ferry["id"])))["attachments"]
    assert sim.count("/submit/imagine") == 3  # nothing was sent twice
    assert await both.terminate() == 0
    for process in (first, both):
        assert not any("Traceback" in line for line in process.lines), "\n".join(process.lines)
    fake_discord.take_rate_limited()  # a killed process's buckets are unknown to its successor


async def test_a_second_process_claiming_a_held_shard_is_refused(
    shards: Shards, fake_discord: FakeDiscord
) -> None:
    holder, _ = await shards.start([1])
    identified = fake_discord.gateway.identify_count
    path, _ = shards.config([0, 1], name="late")
    late = await BotProcess.start(path)
    code = await asyncio.wait_for(late.process.wait(), 60)
    await late._reader
    assert code == 2
    [sentence] = [line for line in late.lines if "already run" in line]
    assert "Shard 1 of 2 is already run by another mjbot process on this database" in sentence
    assert f":{holder.process.pid}, PostgreSQL backend" in sentence
    assert fake_discord.gateway.identify_count == identified  # it never connected
    assert shards.url.split("@")[0].split(":")[-1] not in "\n".join(late.lines)  # no password
    assert await holder.terminate() == 0


async def test_a_burst_over_both_processes(
    shards: Shards, fake_discord: FakeDiscord, sim: Simulator
) -> None:
    """20 simultaneous /imagine, 10 in each guild (so 10 to each process), quota 5 units."""
    zero, one = shards.guilds
    await shards.start([0], quota=5)
    await shards.start([1], quota=5)
    handles = await asyncio.gather(
        *(
            imagine(fake_discord, guild, f"burst {guild.name} {n}")
            for guild in (zero, one)
            for n in range(10)
        )
    )
    answers = await asyncio.gather(
        *(h.wait_original(lambda m: m.get("content"), timeout=15) for h in handles)
    )
    refused = [a for a in answers if "daily units are left" in a["content"]]
    assert len(refused) == 10
    assert sim.count("/submit/imagine") == 10

    def posted(guild: Guild) -> list[dict[str, Any]]:
        return [
            m
            for m in fake_discord.messages.values()
            if m.get("channel_id") == str(guild.channels[0].id)
            and "burst" in m.get("content", "")
            and not m.get("flags", 0) & 64
        ]

    # Each process admitted exactly 5 of its 10 and posted their job messages.
    await fake_discord.wait_for(lambda: [len(posted(g)) for g in (zero, one)] == [5, 5], 15)
    for process in shards.running:
        assert await process.terminate() == 0


RACER = """
import asyncio, json, sys
from bot.config import load_settings
from bot.errors import UserFacingError
from bot.requester import Requester
from bot.runtime import build_services

async def main():
    services = await build_services(load_settings(sys.argv[1]))
    guild, user, channel = map(int, sys.argv[2:5])
    who = Requester(user_id=user, channel_id=channel, guild_id=guild)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def click(n):
        try:
            plan = await services.jobs.plan_imagine(who, f"race {n}")
        except UserFacingError as exc:
            return exc.key
        await services.jobs.submit(plan)
        return "submitted"

    print(json.dumps(await asyncio.gather(*(click(n) for n in range(10)))), flush=True)
    await services.stop()

asyncio.run(main())
"""


async def test_one_quota_raced_by_two_processes(
    shards: Shards, fake_discord: FakeDiscord, sim: Simulator
) -> None:
    zero, _ = shards.guilds
    member = zero.members[0].user
    racers = []
    for ids in ([0], [1]):
        path, _ = shards.config(ids, quota=5)
        racers.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                RACER,
                str(path),
                str(zero.id),
                str(member.id),
                str(zero.channels[0].id),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    for racer in racers:
        assert racer.stdout is not None
        assert await asyncio.wait_for(racer.stdout.readline(), 60) == b"ready\n"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write(b"go\n")
    for racer in racers:
        assert racer.stdin is not None
        await racer.stdin.drain()
    results = []
    for racer in racers:
        assert racer.stdout is not None
        results += json.loads(await asyncio.wait_for(racer.stdout.readline(), 60))
        assert await asyncio.wait_for(racer.wait(), 30) == 0
    assert results.count("submitted") == 5, results
    assert set(results) == {"submitted", "quota.user_quota"}
    assert sim.count("/submit/imagine") == 5
