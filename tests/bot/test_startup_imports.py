"""What `mjbot run` loads before it connects: heavy packages wait for their first use (issue 12:
start-up time and idle memory against a bare discord.py bot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
import asyncio, importlib, json, sys
from bot.app import EXTENSIONS
import bot.cli, bot.logs, bot.process, bot.i18n_discord
from bot.config import load_settings
from bot.prompts import skeleton
from bot.runtime import build_services

for name in EXTENSIONS:
    importlib.import_module(name)

async def main():
    services = await build_services(load_settings(sys.argv[1]))
    await services.stop()

asyncio.run(main())
assert skeleton("h\\u0430rm") == "harm"  # Cyrillic a: the look-alike table works
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_start_up(tmp_path: Path) -> set[str]:
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
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_start_up_leaves_heavy_packages_for_their_first_use(tmp_path: Path) -> None:
    loaded = _modules_after_start_up(tmp_path)
    assert "bot.process" in loaded and "cogs.admin" in loaded  # the script did import them
    early = [name for name in LAZY if name in loaded]
    assert early == [], f"loaded at start-up: {early}"
