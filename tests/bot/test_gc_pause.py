"""The garbage collector paused while `mjbot run` starts, and back (frozen start-up) after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli, gc_pause


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Each test starts with the collector on and leaves it on, nothing frozen."""
    gc.enable()
    gc.unfreeze()
    yield
    gc_pause.resume()
    gc.unfreeze()
    gc.enable()


def test_pause_turns_collection_off_until_resume_freezes_what_lives() -> None:
    gc_pause.pause()
    assert not gc.isenabled()
    kept = [object() for _ in range(10)]  # start-up's objects (untracked) and its dicts below
    tables = [{"n": n} for n in range(100)]
    gc_pause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(tables)  # never walked by a collection again
    assert kept


def test_resume_without_a_pause_changes_nothing() -> None:
    gc_pause.resume()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    gc_pause.pause()
    gc_pause.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


def test_resume_undoes_one_pause_once() -> None:
    gc_pause.pause()
    gc_pause.resume()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    gc_pause.resume()
    assert gc.isenabled() and gc.get_freeze_count() == 0 < frozen


def test_run_turns_the_collector_back_on_when_it_cannot_start(tmp_path: Path) -> None:
    """`mjbot run` pauses before loading anything; a start that ends early resumes too."""
    assert cli.main(["run", "--config", str(tmp_path / "missing.toml")]) == cli.EXIT_CONFIG
    assert gc.isenabled()


def test_other_commands_never_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paused: list[bool] = []
    monkeypatch.setattr(gc_pause, "pause", lambda: paused.append(True))
    cli.main(["check", "--config", str(tmp_path / "missing.toml")])
    cli.main(["backup", str(tmp_path / "copy"), "--config", str(tmp_path / "missing.toml")])
    assert paused == []


def test_the_cli_loads_nothing_heavy_before_it_can_pause() -> None:
    """`mjbot run` pauses the collector in `main()`: importing bot.cli must not already have
    loaded pydantic, discord.py or the storage (they would be built with the collector on)."""
    import subprocess
    import sys

    script = (
        "import sys, bot.cli; "
        "print(sorted(m for m in ('pydantic', 'discord', 'storage', 'httpx') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
