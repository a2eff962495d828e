"""The operator's side of servers' own proxies: security.secret_key, `mjbot rotate-key`,
`mjbot mock-api --api-key A --api-key B`."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings
from bot.keys import KeyBox, KeyBoxError, key_hint
from bot.midjourney.simulator import Simulator
from storage.db import Database
from storage.proxies import ProxyRepository
from tests.bot.test_cli import Cli, cli, run_cli

__all__ = ["cli"]  # the fixture

API_KEY = "sk-server-own-key-5150"


def config(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "config.toml"
    db = tmp_path / "mjbot.sqlite3"
    path.write_text(
        f'[discord]\ntoken = "a-token"\n[midjourney]\nallow_default = false\n'
        f'[storage]\npath = "{db}"\n[security]\nsecret_key = "{secret}"\n',
        encoding="utf-8",
    )
    return path


def test_keybox_round_trip_rotation_and_hint() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = KeyBox(old).encrypt(API_KEY)
    assert API_KEY not in stored and KeyBox(old).decrypt(stored) == API_KEY
    rotated = KeyBox(new, old).reencrypt(stored)
    assert KeyBox(new).decrypt(rotated) == API_KEY
    with pytest.raises(KeyBoxError):
        KeyBox(old).decrypt(rotated)
    with pytest.raises(KeyBoxError):
        KeyBox("not-a-key")
    assert key_hint(API_KEY) == "5150" and key_hint("short") == ""


def test_a_malformed_secret_key_is_named_without_its_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config(tmp_path, "my-secret-passphrase"), require_token=False)
    [problem] = caught.value.problems
    assert "security.secret_key" in problem and "my-secret-passphrase" not in problem
    result = run_cli("check", "--config", str(config(tmp_path, "my-secret-passphrase")))
    assert result.returncode == 2
    assert "security.secret_key" in result.stderr and "my-secret-passphrase" not in result.stderr
    from_env = run_cli(
        "check",
        "--config",
        str(config(tmp_path, "")),
        env={"MJBOT_SECURITY__SECRET_KEY": "also-wrong"},
    )
    assert from_env.returncode == 2 and "MJBOT_SECURITY__SECRET_KEY" in from_env.stderr


def test_without_a_default_proxy_the_base_url_may_stay_empty(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, ""), require_token=False)
    assert not settings.midjourney.allow_default and settings.midjourney.base_url == ""


async def _store(db_path: Path, secret: str) -> None:
    db = await Database.open(db_path)
    try:
        await ProxyRepository(db).add(
            1,
            base_url="https://a.example",
            path_prefix="/mj",
            auth_style="bearer",
            backend="new-api",
            key_encrypted=KeyBox(secret).encrypt(API_KEY),
            key_hint=key_hint(API_KEY),
            created_by=2,
        )
    finally:
        await db.close()


def test_rotate_key_reencrypts_every_stored_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db_path = tmp_path / "mjbot.sqlite3"
    asyncio.run(_store(db_path, old))
    asyncio.run(_store(db_path, old))
    cfg = config(tmp_path, old)
    result = run_cli("rotate-key", "--config", str(cfg), "--new-key", new)
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 2 stored API keys" in result.stdout and new not in result.stdout
    with closing(sqlite3.connect(db_path)) as conn:
        stored = [row[0] for row in conn.execute("SELECT key_encrypted FROM proxies")]
    assert [KeyBox(new).decrypt(s) for s in stored] == [API_KEY, API_KEY]
    # Again (the operator was not sure it ran): harmless.
    assert run_cli("rotate-key", "--config", str(cfg), "--new-key", new).returncode == 0
    # A secret key that never encrypted them: nothing changes, and it says so.
    wrong = config(tmp_path, Fernet.generate_key().decode())
    other = Fernet.generate_key().decode()
    refused = run_cli("rotate-key", "--config", str(wrong), "--new-key", other)
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr
    with closing(sqlite3.connect(db_path)) as conn:
        after = [row[0] for row in conn.execute("SELECT key_encrypted FROM proxies")]
    assert [KeyBox(new).decrypt(s) for s in after] == [API_KEY, API_KEY]


async def test_the_simulator_accepts_each_of_several_keys() -> None:
    sim = Simulator("new-api", api_key="key-server-a", api_keys=["key-server-b"])
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            for key, status in (("key-server-a", 200), ("key-server-b", 200), ("key-c", 401)):
                answer = await client.post(
                    "/mj/task/list-by-condition",
                    json={"ids": []},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert answer.status_code == status, key
    finally:
        await sim.stop()


async def test_mock_api_serves_two_servers_keys(cli: Any) -> None:
    process: Cli = await cli(
        "mock-api", "--port", "0", "--api-key", "key-of-server-a", "--api-key", "key-of-server-b"
    )
    match = await process.wait_line(r"serving at (http://127\.0\.0\.1:\d+)(/mj)")
    base = match.group(1) + match.group(2)
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        statuses = [
            (
                await client.post(
                    f"{base}/task/list-by-condition", json={"ids": []}, headers={"mj-api-secret": k}
                )
            ).status_code
            for k in ("key-of-server-a", "key-of-server-b", "key-of-nobody")
        ]
    assert statuses == [200, 200, 401]
    assert await process.terminate() == 0
    assert "key-of-server-a" not in process.all_stderr
    assert "key-of-server-b" not in process.all_stderr


def test_check_without_a_default_proxy_needs_the_secret_key(tmp_path: Path) -> None:
    fine = run_cli("check", "--config", str(config(tmp_path, Fernet.generate_key().decode())))
    assert fine.returncode == 0, fine.stderr
    assert "No default proxy is configured" in fine.stdout
    missing = run_cli("check", "--config", str(config(tmp_path, "")))
    assert missing.returncode == 1 and "security.secret_key' is empty" in missing.stdout


def _key_starting_with_dash() -> str:
    """A real Fernet key whose base64 text begins with "-" (one new key in 64 does): a first
    byte of 0b111110xx encodes as "-", the 62nd character of URL-safe base64."""
    return base64.urlsafe_b64encode(b"\xf8" + os.urandom(31)).decode()


def test_rotate_key_takes_a_new_key_that_begins_with_a_dash(tmp_path: Path) -> None:
    """argparse reads "-Abc..." as an unknown option: the command must take it as the key."""
    old, new = Fernet.generate_key().decode(), _key_starting_with_dash()
    db_path = tmp_path / "mjbot.sqlite3"
    asyncio.run(_store(db_path, old))
    result = run_cli("rotate-key", "--config", str(config(tmp_path, old)), "--new-key", new)
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(db_path)) as conn:
        [stored] = [row[0] for row in conn.execute("SELECT key_encrypted FROM proxies")]
    assert KeyBox(new).decrypt(stored) == API_KEY
