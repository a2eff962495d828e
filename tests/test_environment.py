"""The test suite does not depend on the caller's MJBOT_* environment (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_spawned_processes_inherit_no_mjbot_variables() -> None:
    """What a spawned bot sees: the environment wins over its config file, so an exported
    MJBOT_DISCORD__TOKEN would replace the fake Discord's token."""
    seen = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(k for k in os.environ if 'MJBOT' in k))"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert seen.stdout.strip() == "[]"


def test_the_suite_passes_with_the_callers_mjbot_variables_set() -> None:
    env = {
        **os.environ,
        "MJBOT_DISCORD__TOKEN": "the-callers-own-token",
        "MJBOT_DISCORD__GUILD_IDS": "[999]",
        "MJBOT_MIDJOURNEY__BASE_URL": "http://192.0.2.1:1",
        "MJBOT_LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/bot/test_config.py",
            "tests/test_environment.py::test_spawned_processes_inherit_no_mjbot_variables",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
