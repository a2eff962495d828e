"""bot/app.py and bot/runtime.py form no import circle, type-checking imports included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _all_imports(path: Path) -> set[str]:
    """Every module a file names in an import: top level, in functions, under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for package in ("bot", "cogs", "storage") for p in (ROOT / package).rglob("*.py")]
    names = {}
    for path in files:
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: (_all_imports(path) & set(names)) - {name} for name, path in names.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path of imports from `start` to `goal`, if there is one."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                if nxt == goal:
                    return paths[nxt]
                queue.append(nxt)
    return None


def test_runtime_never_imports_the_discord_bot() -> None:
    graph = _graph()
    assert "bot.runtime" in graph["bot.process"] and "bot.app" in graph["bot.process"]
    assert _reaches(graph, "bot.runtime", "bot.app") is None, _reaches(
        graph, "bot.runtime", "bot.app"
    )


def test_the_path_finder_finds_a_path() -> None:
    assert _reaches({"a": {"b"}, "b": {"c"}}, "a", "c") == ["a", "b", "c"]
