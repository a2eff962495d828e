"""Named ways real proxies answer that the simulator can imitate (`mjbot mock-api --quirks ...`).

Each quirk is switched on by name; the simulator asks `quirk in self.quirks` where it answers.
A quirk is added here with a one-line description (shown by `mjbot mock-api --help`) and
implemented where the simulator builds the answer it changes.
"""

from __future__ import annotations

from collections.abc import Iterable

# name -> what a proxy that has it does (kept short: it is printed in --help).
QUIRKS: dict[str, str] = {
    "empty-image-url": 'finished images have imageUrl "" and the picture in imageUrls',
    "split-images": 'finished grids have imageUrl "" and four separate images in imageUrls',
    "no-image": "finished images have neither imageUrl nor imageUrls",
    "video-list-only": 'video results have imageUrl and videoUrl "", only videoUrls',
    "localhost-media": "media addresses start http://localhost:3000 (new-api's default address)",
}


class UnknownQuirkError(ValueError):
    """A quirk name that the simulator does not know."""


def parse_quirks(names: Iterable[str] | str) -> frozenset[str]:
    """Quirk names from a comma-separated string or an iterable; unknown names are refused."""
    if isinstance(names, str):
        names = names.split(",")
    wanted = frozenset(name.strip() for name in names if name.strip())
    unknown = sorted(wanted - QUIRKS.keys())
    if unknown:
        known = ", ".join(sorted(QUIRKS)) or "none"
        raise UnknownQuirkError(f"unknown quirk(s) {', '.join(unknown)}; known: {known}")
    return wanted


def describe_quirks() -> str:
    """One line per quirk, for --help."""
    return "; ".join(f"{name}: {text}" for name, text in sorted(QUIRKS.items())) or "none yet"
