"""What `mjbot run` loads before it connects: heavy packages wait for their first use (issue 12:
start-up time and idle memory against a bare discord.py bot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Loaded on first use only: a chart (/mjadmin stats), an image to fit or a mask to draw, a
# server's own API key to encrypt or decrypt ([security] secret_key), the /healthz and /metrics
# server and the Prometheus client ([metrics] enabled), the Unicode data the look-alike table is
# made from.
LAZY = (
    "matplotlib",
    "PIL",
    "cryptography",
    "aiohttp.web",
    "confusable_homoglyphs",
    "prometheus_client",
)

# Imports what `mjbot run` imports (the CLI, the process, the bot and its cogs) and builds the
# services as run_bot does before logging in, with [metrics] off and no secret key (the default).
_SCRIPT = """
import asyncio, importlib, json, ssl, sys
from bot.app import EXTENSIONS
import bot.cli, bot.logs, bot.process, bot.i18n_discord
from bot.config import load_settings
from bot.prompts import skeleton
from bot.runtime import build_services

for name in EXTENSIONS:
    importlib.import_module(name)

ca_loads = []
_load = ssl.SSLContext.load_verify_locations

def counting(self, *args, **kwargs):
    ca_loads.append(args or kwargs)
    return _load(self, *args, **kwargs)

ssl.SSLContext.load_verify_locations = counting

async def main():
    services = await build_services(load_settings(sys.argv[1]))
    await services.stop()

asyncio.run(main())
assert skeleton("h\\u0430rm") == "harm"  # Cyrillic a: the look-alike table works
print(json.dumps({"modules": sorted(sys.modules), "ca_loads": len(ca_loads)}))
"""


def _start_up(tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[discord]
token = "unused.token.value"
[midjourney]
base_url = "http://127.0.0.1:9"
api_key = "unused-key"
[storage]
path = "{tmp_path / "mjbot.sqlite3"}"
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_start_up_leaves_heavy_packages_for_their_first_use(tmp_path: Path) -> None:
    loaded = set(_start_up(tmp_path)["modules"])
    assert "bot.process" in loaded and "cogs.admin" in loaded  # the script did import them
    early = [name for name in LAZY if name in loaded]
    assert early == [], f"loaded at start-up: {early}"


def test_start_up_loads_no_ca_bundle_for_a_plain_http_proxy(tmp_path: Path) -> None:
    """httpx would load certifi's bundle for each client it builds (about 20 ms and 1-3 MiB
    each); the bot's clients load it with their first https request (bot/transport.py)."""
    assert _start_up(tmp_path)["ca_loads"] == 0


_PLUGIN_SCRIPT = """
import importlib.metadata, json
asked = []
_entry_points = importlib.metadata.entry_points

def counting(**selection):
    asked.append(selection.get("group"))
    return _entry_points(**selection)

importlib.metadata.entry_points = counting
import bot.cli
from bot.config import load_settings
import bot.midjourney.models
print(json.dumps(asked))
"""


def test_pydantic_does_not_search_every_installed_package_for_plugins() -> None:
    """pydantic looks for plugins in every installed distribution's metadata when the first
    model is built (35-50 ms of start-up); mjbot uses none (PYDANTIC_DISABLE_PLUGINS)."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", _PLUGIN_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "pydantic" not in json.loads(done.stdout.strip().splitlines()[-1])
