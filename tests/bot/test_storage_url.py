"""storage.url as an operator meets it: accepted forms, a refused URL (exit 2), `mjbot check`,
`run` and `backup` on PostgreSQL, and the password never shown."""

from __future__ import annotations

import io
import logging
import socket
from pathlib import Path

import pytest

from bot.cli import _secrets
from bot.config import ConfigError, load_settings
from bot.logs import configure_logging
from bot.process import claim_instance, release_instance
from bot.ui.boundary import storage_trouble
from storage.db import StorageError, StorageUnavailable
from storage.lock import InstanceLock
from storage.shard_lock import ShardLock, ShardsTaken
from storage.shards import ALL_SHARDS
from tests.bot.test_cli import good_sections, problem_lines, run_cli, write_config
from tests.support.postgres import PASSWORD, PostgresServer


def _config(tmp_path: Path, **storage: str) -> Path:
    sections = good_sections(tmp_path, storage=storage)
    return write_config(tmp_path / "config.toml", sections)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("url", "dialect", "target"),
    [
        ("sqlite:///data/bot.sqlite3", "sqlite", "data/bot.sqlite3"),
        ("sqlite:////srv/mjbot/bot.sqlite3", "sqlite", "/srv/mjbot/bot.sqlite3"),
        ("postgresql://bot:pw@db:5432/mjbot", "postgresql", "postgresql://bot:pw@db:5432/mjbot"),
        ("postgres://bot@db/mjbot", "postgresql", "postgres://bot@db/mjbot"),
        ("", "sqlite", "PATH"),
    ],
)
def test_storage_url_forms(tmp_path: Path, url: str, dialect: str, target: str) -> None:
    settings = load_settings(_config(tmp_path, url=url))
    database = settings.storage.database
    expected = str(tmp_path / "mjbot.sqlite3") if target == "PATH" else target
    assert (database.dialect, database.target) == (dialect, expected)
    assert "pw@" not in database.display


def test_a_bad_storage_url_is_one_sentence_and_exit_2_without_the_password(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, url="mysql://root:hunter2@db/mjbot")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        "Setting 'storage.url' must be sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, not a mysql:// URL "
        "(got 'mysql://root:***@db/mjbot')."
    ]
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    assert problem_lines(result.stderr) == caught.value.problems
    assert "hunter2" not in result.stderr + result.stdout


def test_check_opens_and_migrates_a_postgresql_database(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    result = run_cli("check", "--config", str(_config(tmp_path, url=postgres_url)))
    where = postgres_url.replace(f":{PASSWORD}@", "@")
    assert result.stdout.splitlines()[1] == f"The database at '{where}' opens and is up to date."
    assert PASSWORD not in result.stdout + result.stderr


def test_check_with_a_wrong_password_says_so_without_either_password(
    tmp_path: Path, postgres_url: str
) -> None:
    wrong = postgres_url.replace(PASSWORD, "wrong-pw-51e0")
    result = run_cli("check", "--config", str(_config(tmp_path, url=wrong)))
    assert result.returncode == 1
    where = postgres_url.replace(f":{PASSWORD}@", "@")
    line = result.stdout.splitlines()[1]
    assert line.startswith(
        f"The database at '{where}' cannot be opened: PostgreSQL refused the login to {where}"
    )
    assert "Traceback" not in result.stderr
    for secret in (PASSWORD, "wrong-pw-51e0"):
        assert secret not in result.stdout + result.stderr


def test_run_against_an_unreachable_server_logs_one_sentence_and_exits_1(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql://mjbot:{PASSWORD}@127.0.0.1:{port}/mjbot"
    result = run_cli("run", "--config", str(_config(tmp_path, url=url)))
    assert result.returncode == 1
    where = f"postgresql://mjbot@127.0.0.1:{port}/mjbot"
    assert (
        f"The database at '{where}' cannot be opened: cannot reach PostgreSQL at {where}: "
        "connection refused (is the server running?)"
    ) in result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    assert not (tmp_path / "mjbot.sqlite3.lock").exists()  # no SQLite lock for PostgreSQL


def test_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    url = f"postgresql://mjbot:{PASSWORD}@db.example:5432/mjbot"
    result = run_cli("backup", str(tmp_path / "out"), "--config", str(_config(tmp_path, url=url)))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "mjbot: backup copies SQLite files; the database at "
        "postgresql://mjbot@db.example:5432/mjbot is on PostgreSQL: back it up with pg_dump "
        "(e.g. pg_dump -Fc -f mjbot.dump with the same URL)."
    )
    assert not (tmp_path / "out").exists()


def test_log_lines_never_show_the_database_password(tmp_path: Path) -> None:
    url = "postgresql://mjbot:s3cr%40t-pw@db/mjbot"
    settings = load_settings(_config(tmp_path, url=url))
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", _secrets(settings))
        root.handlers[-1].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("test").error("connecting to %s (s3cr@t-pw)", url)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert "s3cr" not in stream.getvalue() and "db/mjbot" in stream.getvalue()


async def test_the_file_lock_is_sqlites_the_shard_locks_postgresqls(
    tmp_path: Path, postgres_url: str
) -> None:
    file = tmp_path / "db" / "bot.sqlite3"
    lock = await claim_instance(load_settings(_config(tmp_path, url=f"sqlite:///{file}")))
    assert isinstance(lock, InstanceLock) and lock.path == Path(f"{file}.lock")
    await release_instance(lock)
    settings = load_settings(_config(tmp_path, url=postgres_url))
    shards = await claim_instance(settings)
    assert isinstance(shards, ShardLock) and shards.held and shards.scope == ALL_SHARDS
    with pytest.raises(ShardsTaken, match=r"^All shards are already run"):
        await claim_instance(settings)
    await release_instance(shards)
    assert not shards.held
    with pytest.raises(StorageError):
        await claim_instance(load_settings(_config(tmp_path, url="postgresql://m@127.0.0.1:1/m")))


def test_an_unreachable_database_is_storage_trouble_for_members() -> None:
    assert storage_trouble(StorageUnavailable("cannot reach PostgreSQL at postgresql://h/db"))
    assert storage_trouble(StorageError("database is locked"))
    assert not storage_trouble(StorageError("no such column: x"))


async def test_rotate_key_on_postgresql(postgres_url: str) -> None:
    from cryptography.fernet import Fernet

    from bot.keys import KeyBox
    from bot.rotate_key import rotate_key
    from storage.db import Database
    from storage.proxies import ProxyRepository

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with await Database.open(postgres_url) as db:
        await ProxyRepository(db).add(
            1, base_url="https://a.example", path_prefix="/mj", auth_style="bearer",
            backend="new-api", key_encrypted=KeyBox(old).encrypt("sk-x"), key_hint="sk-x",
            created_by=2,
        )  # fmt: skip
    assert (await rotate_key(postgres_url, old, new)).keys == 1
    async with await Database.open(postgres_url) as db:
        [proxy] = await ProxyRepository(db).all()
    assert KeyBox(new).decrypt(proxy.key_encrypted) == "sk-x"
