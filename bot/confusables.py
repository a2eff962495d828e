"""Look-alike characters for banned-word matching: each confusable character -> one
representative of its class (Unicode TR39 confusables.txt, as shipped by confusable-homoglyphs):
"о" (Cyrillic) -> "o", "ⅼ" -> "1".

The classes are computed once from confusable-homoglyphs and shipped in `confusables.json`
(one string per class, its representative first): loading that takes milliseconds and about
0.3 MiB, where loading the package's data takes 0.25-0.5 s and about 15 MiB for the life of the
process. A test checks the shipped file against the package; after upgrading it, rewrite the
file with `python -m bot.confusables`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

TABLE_FILE = "confusables.json"


def classes_from_unicode_data() -> list[str]:
    """The classes from confusable-homoglyphs' data, each representative first, sorted.

    The data lists both directions of each source -> prototype pair, so the classes are its
    connected components; an ASCII letter or digit represents its class where there is one.
    Only single-character mappings are used ("m" -> "rn" would make "harm" match "hartn").
    """
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.setdefault(char, char) != char:
            parent[char] = parent[parent[char]]
            char = parent[char]
        return char

    for char, entries in confusables_data.items():
        for entry in entries:
            other = entry["c"]
            if len(char) == 1 and len(other) == 1:
                parent[root(char)] = root(other)
    groups: dict[str, list[str]] = {}
    for char in parent:
        groups.setdefault(root(char), []).append(char)
    classes = []
    for members in groups.values():
        best = min(members, key=lambda c: (not c.isascii(), not c.isalnum(), c))
        classes.append(best + "".join(sorted(c for c in members if c != best)))
    return sorted(classes)


def table_of(classes: list[str]) -> dict[str, str]:
    """Each member of a class -> the class's representative (its first character)."""
    return {member: cls[0] for cls in classes for member in cls[1:]}


@functools.cache
def prototypes() -> dict[str, str]:
    """The shipped table (read once)."""
    text = resources.files("bot").joinpath(TABLE_FILE).read_text("ascii")
    classes: list[str] = json.loads(text)
    return table_of(classes)


def write_table(path: Path) -> None:
    """Rewrite the shipped file from confusable-homoglyphs' data (ASCII: every other character
    escaped, so no editor or linter sees a look-alike)."""
    classes = classes_from_unicode_data()
    path.write_text(json.dumps(classes, ensure_ascii=True, indent=0) + "\n", "ascii")


if __name__ == "__main__":
    write_table(Path(__file__).with_name(TABLE_FILE))
