"""The bot on loopback for benchmarks: the proxy simulator in a child process, the real mjbot
(`run_bot`) against the wire-level fake Discord in this one."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.midjourney.simulator import Simulator
from tests.e2e.harness import KEY, RunningBot, make_settings, start_bot
from tests.fakes.discord import FakeDiscord, Member, User, patch_discord

REPO = Path(__file__).resolve().parents[1]
UNLIMITED = {
    "daily_quota": 0,
    "guild_daily_cap": 0,
    "max_jobs_per_user": 0,
    "max_jobs_per_guild": 0,
}


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    """Child process: serve a simulator until SIGTERM; send its base URL back first."""

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        sim = Simulator("plus", api_key=KEY, **options)
        conn.send(await sim.start())
        conn.close()
        await stop.wait()
        await sim.stop()

    asyncio.run(main())


@dataclass
class ChildSimulator:
    """A simulator served by another process, so its work does not count against the bot."""

    process: multiprocessing.process.BaseProcess
    base_url: str

    @property
    def stub(self) -> Simulator:
        """A never-started Simulator that only carries the address, mode and prefix."""
        return Simulator("plus", public_base_url=self.base_url)

    def stop(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(10)


def start_child_simulator(**options: Any) -> ChildSimulator:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_serve, args=(child, options), daemon=True)
    process.start()
    child.close()
    if not parent.poll(30):
        process.kill()
        raise RuntimeError("the simulator process did not start")
    base_url = parent.recv()
    parent.close()
    return ChildSimulator(process, str(base_url))


class ScaledClock:
    """Simulated seconds running `speed` times faster than the monotonic clock (picklable)."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.origin = time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self.origin) * self.speed


@dataclass
class Rig:
    fake: FakeDiscord
    running: RunningBot

    @property
    def services(self) -> Any:
        return self.running.services


@asynccontextmanager
async def rig(
    sim: Simulator, *, members: int = 0, **settings: dict[str, Any]
) -> AsyncIterator[Rig]:
    """A started fake Discord (with `members` extra members) and mjbot connected to it."""
    fake = FakeDiscord()
    for n in range(members):
        fake.guild.members.append(Member(User(fake.clock.snowflake(), f"member{n:04d}")))
    await fake.start()
    try:
        with patch_discord(fake), TemporaryDirectory() as tmp:
            running = await start_bot(fake, make_settings(fake, sim, Path(tmp) / "db", **settings))
            try:
                yield Rig(fake, running)
            finally:
                await running.stop()
    finally:
        await fake.stop()


@dataclass
class BotProcess:
    """`python -m bot run` in a child process; this process only plays Discord."""

    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = ['log_level = "WARNING"']
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in keys.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@asynccontextmanager
async def bot_process(
    fake: FakeDiscord, sim_url: str, **sections: dict[str, Any]
) -> AsyncIterator[BotProcess]:
    """Run mjbot as an operator would, pointed at `fake` and the simulator; SIGTERM at exit."""
    with TemporaryDirectory() as tmp:
        config: dict[str, dict[str, Any]] = {
            "discord": {
                "token": fake.token,
                "api_base_url": fake.api_base_url,
                "gateway_url": fake.gateway_url,
                "guild_ids": [fake.guild.id],
            },
            "midjourney": {"base_url": sim_url, "api_key": KEY, "auth_style": "mj-api-secret"},
            "storage": {"path": str(Path(tmp) / "mjbot.sqlite3")},
        }
        for name, keys in sections.items():
            config.setdefault(name, {}).update(keys)
        path = write_config(Path(tmp) / "config.toml", config)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(path), cwd=REPO
        )
        try:
            # Connected, and its commands registered (synced beside the connection).
            await fake.wait_for(
                lambda: (
                    (fake.gateway.connected and bool(fake.commands.get(fake.guild.id)))
                    or process.returncode is not None
                ),
                timeout=60,
            )
            if process.returncode is not None:
                raise RuntimeError(f"mjbot exited at start-up with {process.returncode}")
            yield BotProcess(process)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def members(fake: FakeDiscord) -> list[User]:
    return [m.user for m in fake.guild.members if m.user.username.startswith("member")]


def machine() -> str:
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"# machine: nproc={nproc or os.cpu_count()} python={platform.python_version()} "
        f"{platform.system()} {platform.release()} date={time.strftime('%Y-%m-%d')}"
    )


def quiet_logs() -> None:
    """Only warnings and errors, on stderr, so the figure lines stay readable on stdout."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
