"""The storage package stays below the bot: it never imports discord or the application."""

from __future__ import annotations

import ast
from pathlib import Path

import storage

FORBIDDEN = ("discord", "bot", "cogs")


def test_storage_imports_neither_discord_nor_bot() -> None:
    for path in Path(storage.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
