"""README's "Run it" block, followed literally on a fresh machine, gives a config that starts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_run_block_names_every_setting_the_example_leaves_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("MJBOT_")]:
        monkeypatch.delenv(name)
    with pytest.raises(ConfigError) as refused:
        load_settings(ROOT / "config.example.toml")
    empty = {
        m[1] for p in refused.value.problems if (m := re.match(r"Setting '([\w.]+)' is empty", p))
    }
    assert empty, refused.value.problems
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"## Run it\n.*?```sh\n(.*?)```", readme, re.S)
    assert block is not None
    commands = block[1]
    before_run = commands[: commands.index("mjbot run")]
    # The `mjbot run` line refuses to start (exit 2) unless the comments before it say to set these.
    assert {key for key in empty if key not in before_run} == set()
