"""The `mjbot` console script as an operator meets it: real subprocesses, exit codes, stderr."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.midjourney.simulator import Simulator
from storage.db import Database
from tests.fakes.discord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-cli-secret-key-7731"
STARTUP_TIMEOUT = 30.0  # a cold interpreter importing discord.py on a busy 2-core machine
EXIT_TIMEOUT = 10.0


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without MJBOT_* overrides, so only the test's config counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJBOT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]], **top: Any) -> Path:
    lines = [f"{key} = {_toml(value)}" for key, value in top.items()]
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in keys.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good_sections(tmp_path: Path, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "discord": {"token": "cli-test-token"},
        "midjourney": {"base_url": "http://127.0.0.1:9", "api_key": KEY},
        "storage": {"path": str(tmp_path / "mjbot.sqlite3")},
    }
    for name, keys in overrides.items():
        sections.setdefault(name, {}).update(keys)
    return sections


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """For commands that need nothing served by this process."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=False,
    )


class Cli:
    """An `mjbot` subprocess whose stderr is read line by line while this loop serves fakes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr: list[str] = []
        self.stdout = ""

    @classmethod
    async def start(cls, *args: str) -> Cli:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=REPO,
            env=_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def wait_line(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> re.Match[str]:  # noqa: ASYNC109 (a bound on a subprocess, not an API)
        """The first stderr line matching `pattern`; fails if the process ends first."""
        regex = re.compile(pattern)
        for line in self.stderr:
            if match := regex.search(line):
                return match
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stderr.readline()
                if not raw:
                    raise AssertionError(
                        f"mjbot exited before logging {pattern!r}:\n" + "".join(self.stderr)
                    )
                line = raw.decode(errors="replace")
                self.stderr.append(line)
                if match := regex.search(line):
                    return match

    async def finish(self, timeout: float = EXIT_TIMEOUT) -> int:  # noqa: ASYNC109 (a bound on a subprocess, not an API)
        """Wait for the exit and collect the rest of stdout and stderr."""
        async with asyncio.timeout(timeout):
            out, err = await self.process.communicate()
        self.stdout = out.decode(errors="replace")
        self.stderr.extend(err.decode(errors="replace").splitlines(keepends=True))
        assert self.process.returncode is not None
        return self.process.returncode

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await self.finish()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    @property
    def all_stderr(self) -> str:
        return "".join(self.stderr)


@pytest.fixture
async def cli() -> AsyncIterator[Callable[..., Any]]:
    """Start `mjbot` subprocesses; any still running at teardown is killed and reaped."""
    started: list[Cli] = []

    async def start(*args: str) -> Cli:
        process = await Cli.start(*args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.returncode is None:
            process.kill()
            await process.process.communicate()


def problem_lines(stderr: str) -> list[str]:
    return [line.strip()[2:] for line in stderr.splitlines() if line.strip().startswith("- ")]


def assert_plain(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "Error:" not in stderr.split("\n", 1)[0]


# ---- a wrong configuration: exit 2, one sentence per problem ------------------------------------


def test_a_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_cli("run", "--config", str(missing))
    assert result.returncode == 2
    assert_plain(result.stderr)
    assert problem_lines(result.stderr) == [f"The config file '{missing}' does not exist."]


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("discord", "tokn", "x", "Unknown setting 'discord.tokn'"),
        ("midjourney", "auth_style", "basic", "Setting 'midjourney.auth_style' has value 'basic'"),
        (
            "midjourney",
            "poll_interval_seconds",
            -1,
            "Setting 'midjourney.poll_interval_seconds' must be greater than 0",
        ),
        ("discord", "token", "", "Setting 'discord.token' is empty"),
        ("discord", "api_base_url", "discord.com/api", "Setting 'discord.api_base_url' must be"),
    ],
)
def test_one_bad_setting_is_named_in_one_sentence(
    tmp_path: Path, section: str, key: str, value: Any, expected: str
) -> None:
    config = write_config(
        tmp_path / "config.toml", good_sections(tmp_path, **{section: {key: value}})
    )
    for command in ("run", "check"):
        result = run_cli(command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        assert_plain(result.stderr)
        problems = problem_lines(result.stderr)
        assert len(problems) == 1 and problems[0].startswith(expected), problems
        assert problems[0].endswith((".", ")")), problems
        assert KEY not in result.stderr + result.stdout


def test_every_problem_gets_its_own_sentence(tmp_path: Path) -> None:
    sections = good_sections(
        tmp_path,
        discord={"colour": "blue"},
        midjourney={"auth_style": "basic", "poll_interval_seconds": -3.0},
    )
    result = run_cli("run", "--config", str(write_config(tmp_path / "c.toml", sections)))
    assert result.returncode == 2
    assert_plain(result.stderr)
    problems = problem_lines(result.stderr)
    assert len(problems) == 3
    assert [p.split("'")[1] for p in problems] == [
        "discord.colour",
        "midjourney.auth_style",
        "midjourney.poll_interval_seconds",
    ]


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    sections = good_sections(tmp_path, discord={"token": ""}, midjourney={"auth_style": "basic"})
    config = write_config(tmp_path / "c.toml", sections)
    result = run_cli("check", "--config", str(config), env={"MJBOT_MIDJOURNEY__AUTH_STYLE": "raw"})
    assert result.returncode == 2
    assert problem_lines(result.stderr) == [
        "Setting 'discord.token' is empty: put the bot token in the config or in the "
        "environment variable MJBOT_DISCORD__TOKEN."
    ]


def test_without_a_config_file_the_environment_is_enough(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(REPO),
        "MJBOT_DISCORD__TOKEN": "env-token",
        "MJBOT_MIDJOURNEY__BASE_URL": "http://127.0.0.1:9",  # nothing listens: one sentence
        "MJBOT_STORAGE__PATH": str(tmp_path / "db.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,  # no ./config.toml here
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "The configuration is valid." in result.stdout
    assert "cannot be reached" in result.stdout
    empty = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=_env({"PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=False,
    )
    assert empty.returncode == 2 and "from the environment" in empty.stderr


def test_no_command_is_a_usage_error() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "usage: mjbot" in result.stderr and "Traceback" not in result.stderr


# ---- mjbot mock-api ---------------------------------------------------------------------------


async def test_mock_api_serves_until_sigterm(cli: Callable[..., Any]) -> None:
    process: Cli = await cli("mock-api", "--port", "0", "--api-key", KEY, "--seconds-per-job", "1")
    match = await process.wait_line(r"serving at (http://127\.0\.0\.1:\d+)(/mj)")
    base = match.group(1) + match.group(2)
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        submitted = await client.post(
            f"{base}/submit/imagine", json={"prompt": "a fox"}, headers={"mj-api-secret": KEY}
        )
        refused = await client.post(f"{base}/submit/imagine", json={"prompt": "a fox"})
    assert submitted.status_code == 200 and submitted.json()["code"] == 1
    assert refused.status_code == 401
    assert await process.terminate() == 0
    assert "Traceback" not in process.all_stderr
    assert KEY not in process.all_stderr


async def test_mock_api_on_a_busy_port_says_so(cli: Callable[..., Any]) -> None:
    sim = Simulator()
    await sim.start()
    try:
        port = sim.base_url.rsplit(":", 1)[1]
        process: Cli = await cli("mock-api", "--port", port)
        code = await process.finish(STARTUP_TIMEOUT)
    finally:
        await sim.stop()
    assert code == 1
    assert "the mock API could not run" in process.all_stderr
    assert "Traceback" not in process.all_stderr


# ---- mjbot check --------------------------------------------------------------------------------


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator("plus", api_key=KEY)
    await sim.start()
    yield sim
    await sim.stop()


async def _check(cli: Callable[..., Any], config: Path) -> tuple[int, Cli]:
    process: Cli = await cli("check", "--config", str(config))
    code = await process.finish(STARTUP_TIMEOUT)
    return code, process


def _check_config(tmp_path: Path, sim: Simulator, **midjourney: Any) -> Path:
    mj = {
        "base_url": sim.base_url,
        "api_key": KEY,
        "auth_style": "mj-api-secret",
        **midjourney,
    }
    return write_config(tmp_path / "config.toml", good_sections(tmp_path, midjourney=mj))


async def test_check_reports_a_usable_backend(
    cli: Callable[..., Any], simulator: Simulator, tmp_path: Path
) -> None:
    code, process = await _check(cli, _check_config(tmp_path, simulator))
    assert code == 0, process.stdout + process.all_stderr
    assert process.stdout.splitlines() == [
        "The configuration is valid.",
        f"The database at '{tmp_path / 'mjbot.sqlite3'}' opens and is up to date.",
        f"The backend at {simulator.base_url}/mj answers and accepts the key.",
    ]
    assert simulator.submits == 0  # a check never costs money
    assert KEY not in process.stdout + process.all_stderr


@pytest.mark.parametrize(
    ("midjourney", "says"),
    [
        ({"api_key": "sk-wrong-key-0000"}, "The API key is refused (HTTP 401); check"),
        ({"auth_style": "bearer"}, "The API key is refused (HTTP 401); check"),
        ({"path_prefix": "/v1/mj"}, "The path prefix seems wrong: "),
    ],
)
async def test_check_names_what_is_wrong(
    cli: Callable[..., Any],
    simulator: Simulator,
    tmp_path: Path,
    midjourney: dict[str, Any],
    says: str,
) -> None:
    code, process = await _check(cli, _check_config(tmp_path, simulator, **midjourney))
    assert code == 1
    lines = process.stdout.splitlines()
    assert lines[0] == "The configuration is valid."
    assert len(lines) == 3 and lines[2].startswith(says), lines
    assert "Traceback" not in process.all_stderr


async def test_check_with_an_unreachable_proxy_is_one_sentence(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    unused = Simulator()
    await unused.start()
    base = unused.base_url
    await unused.stop()  # nobody listens there any more
    config = write_config(
        tmp_path / "config.toml", good_sections(tmp_path, midjourney={"base_url": base})
    )
    code, process = await _check(cli, config)
    assert code == 1
    assert process.stdout.splitlines()[-1] == (
        f"The address {base} cannot be reached; check midjourney.base_url."
    )
    assert process.all_stderr == ""  # retries are not the operator's business


async def test_check_with_a_database_that_cannot_open(
    cli: Callable[..., Any], simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    sections = good_sections(
        tmp_path,
        midjourney={"base_url": simulator.base_url, "auth_style": "mj-api-secret"},
        storage={"path": str(tmp_path / "blocker" / "mjbot.sqlite3")},
    )
    code, process = await _check(cli, write_config(tmp_path / "config.toml", sections))
    assert code == 1
    lines = process.stdout.splitlines()
    assert lines[1].startswith(f"The database at '{tmp_path / 'blocker' / 'mjbot.sqlite3'}'")
    assert "cannot be opened" in lines[1]
    assert "Traceback" not in process.all_stderr


# ---- mjbot run --------------------------------------------------------------------------------


def _run_config(
    tmp_path: Path, fake: FakeDiscord, sim: Simulator, *, token: str | None = None
) -> Path:
    sections = good_sections(
        tmp_path,
        discord={
            "token": fake.token if token is None else token,
            "api_base_url": fake.api_base_url,
            "gateway_url": fake.gateway_url,
            "guild_ids": [fake.guild.id],
        },
        midjourney={"base_url": sim.base_url, "auth_style": "mj-api-secret"},
    )
    return write_config(tmp_path / "config.toml", sections, log_level="INFO")


def _synced(fake: FakeDiscord) -> Sequence[str]:
    path = f"/applications/{fake.application_id}/guilds/{fake.guild.id}/commands"
    return [r.path for r in fake.requests if r.method == "PUT" and r.path == path]


async def test_run_connects_syncs_and_stops_on_sigterm(
    cli: Callable[..., Any], fake_discord: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    process: Cli = await cli("run", "--config", str(_run_config(tmp_path, fake_discord, simulator)))
    await fake_discord.wait_for(
        lambda: (
            bool(fake_discord.commands.get(fake_discord.guild.id))
            and fake_discord.gateway.connected
        ),
        timeout=STARTUP_TIMEOUT,
    )
    assert {c["name"] for c in fake_discord.commands[fake_discord.guild.id]} >= {"imagine"}
    handle = await fake_discord.slash("imagine", {"prompt": "a lighthouse at dusk"})
    assert (await handle.wait_response(timeout=EXIT_TIMEOUT))["type"] == 5
    # SIGTERM right after the job message is posted, while its handler is still recording it.
    posted = await fake_discord.wait_message(
        lambda m: "a lighthouse at dusk" in m.get("content", "")
    )

    assert await process.terminate() == 0
    stderr = process.all_stderr
    assert "Traceback" not in stderr and " ERROR " not in stderr
    assert "shutting down" in stderr
    assert fake_discord.token not in stderr and KEY not in stderr
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected)
    with closing(sqlite3.connect(tmp_path / "mjbot.sqlite3")) as db:
        mapped = db.execute("SELECT job_id FROM messages WHERE message_id = ?", (posted["id"],))
        assert mapped.fetchone() is not None, "the job message lost its job at shutdown"


async def test_run_with_a_refused_token_says_so(
    cli: Callable[..., Any], fake_discord: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    config = _run_config(tmp_path, fake_discord, simulator, token="not-the-right-token")
    process: Cli = await cli("run", "--config", str(config))
    code = await process.finish(STARTUP_TIMEOUT)
    assert code == 1
    stderr = process.all_stderr
    assert "Traceback" not in stderr
    assert "Discord refused the bot token: check discord.token (MJBOT_DISCORD__TOKEN)." in stderr
    assert "not-the-right-token" not in stderr
    assert not fake_discord.gateway.identify_count


async def test_mock_api_refuses_an_unknown_quirk(cli: Callable[..., Any]) -> None:
    process: Cli = await cli("mock-api", "--port", "0", "--quirks", "no-such-quirk")
    code = await process.finish(STARTUP_TIMEOUT)
    assert code == 2
    assert "unknown quirk(s) no-such-quirk" in process.all_stderr
    assert "Traceback" not in process.all_stderr


def test_a_bad_log_level_is_refused_at_load(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", good_sections(tmp_path), log_level="VERBOSE")
    for command in ("run", "check"):
        result = run_cli(command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        assert_plain(result.stderr)
        assert problem_lines(result.stderr) == [
            "Setting 'log_level' has value 'VERBOSE'; it must be one of 'DEBUG', 'INFO', "
            "'WARNING' or 'ERROR'."
        ]


def test_a_bad_environment_variable_is_named_and_the_file_not_blamed(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", good_sections(tmp_path))
    result = run_cli(
        "check",
        "--config",
        str(config),
        env={"MJBOT_MIDJOURNEY__AUTH_STYLE": "basic", "MJBOT_DISCORD_TOKEN": "x"},
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "mjbot: warning: The environment variable MJBOT_DISCORD_TOKEN matches no setting "
        "(did you mean MJBOT_DISCORD__TOKEN?)"
    )
    assert lines[1] == "mjbot: the configuration from the environment cannot be used:"
    assert problem_lines(result.stderr) == [
        "Environment variable MJBOT_MIDJOURNEY__AUTH_STYLE (setting 'midjourney.auth_style') "
        "has value 'basic'; it must be one of 'bearer', 'raw' or 'mj-api-secret'."
    ]


def test_the_files_that_hold_secrets_are_ignored_by_git() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "config.toml", ".env", "secrets.env"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["config.toml", ".env", "secrets.env"]


def test_version() -> None:
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mjbot {version('mjbot')}"


def test_backup_needs_only_the_storage_settings(tmp_path: Path) -> None:
    db = tmp_path / "mjbot.sqlite3"

    async def create() -> None:  # an mjbot database as `mjbot check` leaves it
        await (await Database.open(db)).close()

    asyncio.run(create())
    config = write_config(tmp_path / "c.toml", {"storage": {"path": str(db)}})
    target = tmp_path / "copy.sqlite3"
    result = run_cli("backup", str(target), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Backed up '{db}' to '{target}': 0 jobs, ")
    missing = run_cli("backup", str(target), env={"MJBOT_STORAGE__PATH": str(tmp_path / "no")})
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"mjbot: backup failed: there is no database at {tmp_path / 'no'} (check storage.path)"
    )
    folder = run_cli("backup", f"{tmp_path / 'backups'}/", "--config", str(config))
    assert folder.returncode == 0, folder.stderr
    assert [p.name[:6] for p in (tmp_path / "backups").iterdir()] == ["mjbot-"]


async def test_run_with_a_folder_as_database_says_so_once(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    sections = good_sections(tmp_path, storage={"path": str(tmp_path)})
    for _ in range(3):  # the traceback came after the sentence in most runs, not all
        process: Cli = await cli(
            "run", "--config", str(write_config(tmp_path / "c.toml", sections))
        )
        assert await process.finish(STARTUP_TIMEOUT) == 1
        assert process.all_stderr.count("\n") == 1, process.all_stderr
        assert f"{tmp_path} is a folder, not a database file" in process.all_stderr


async def test_a_second_bot_on_the_same_database_refuses_to_start(
    cli: Callable[..., Any], fake_discord: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    config = str(_run_config(tmp_path, fake_discord, simulator))
    first: Cli = await cli("run", "--config", config)
    await fake_discord.wait_for(lambda: fake_discord.gateway.connected, timeout=STARTUP_TIMEOUT)
    second: Cli = await cli("run", "--config", config)
    assert await second.finish(STARTUP_TIMEOUT) == 1
    db = tmp_path / "mjbot.sqlite3"
    assert (
        f"ERROR bot.process: Not started: another mjbot (process {first.process.pid}) is already "
        f"running on the database at {db}: two would both poll and edit the same jobs."
    ) in second.all_stderr
    assert "Traceback" not in second.all_stderr
    assert fake_discord.gateway.identify_count == 1  # the second never logged in

    first.kill()  # kill -9: nothing left to clean up
    await first.process.wait()
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected)
    third: Cli = await cli("run", "--config", config)
    await fake_discord.wait_for(lambda: fake_discord.gateway.connected, timeout=STARTUP_TIMEOUT)
    assert await third.terminate() == 0
