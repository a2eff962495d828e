"""Message catalogues: one TOML table per language, chosen by interaction then guild locale."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

DEFAULT_LOCALE = "en"
# Discord locale codes mapped to the catalogue that serves them.
_ALIASES = {
    "en-US": "en",
    "en-GB": "en",
    "zh-CN": "zh-CN",
    "zh-TW": "zh-CN",
}
LOCALES = ("en", "zh-CN")
# CLDR plural categories each language uses. A plural sentence is a table of these
# (`units.one = "{count} unit"`, `units.other = "{count} units"`), chosen by the `count` param.
PLURAL_CATEGORIES: dict[str, tuple[str, ...]] = {"en": ("one", "other"), "zh-CN": ("other",)}
ALL_PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})


def plural_category(locale: str, count: object) -> str:
    """CLDR's category of `count` in `locale` (English: 1 is "one"; Chinese has no plural)."""
    if "one" in PLURAL_CATEGORIES.get(locale, ("one", "other")):
        try:
            number = float(str(count))
        except ValueError:
            return "other"
        return "one" if number == 1 and "." not in str(count) else "other"
    return "other"


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All strings of one language, keyed by dotted name (one TOML file per feature area)."""
    folder = resources.files("bot").joinpath("locales", locale)
    merged: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            merged.update(_flatten(tomllib.loads(entry.read_text("utf-8"))))
    return merged


def resolve_locale(*candidates: str | None) -> str:
    """The first candidate that has a catalogue, else English."""
    for candidate in candidates:
        if not candidate:
            continue
        if candidate in LOCALES:
            return candidate
        alias = _ALIASES.get(candidate) or _ALIASES.get(candidate.split("-")[0])
        if alias:
            return alias
        if candidate.split("-")[0] == "zh":
            return "zh-CN"
    return DEFAULT_LOCALE


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(locale: str | None, key: str, /, **params: object) -> str:
    """The sentence for `key` in `locale` (falling back to English), with params filled in."""
    lang = resolve_locale(locale)
    text = _lookup(lang, key, params)
    if text is None:
        text = _lookup(DEFAULT_LOCALE, key, params) or key
    return string.Formatter().vformat(text, (), _Lenient(params))


def _lookup(lang: str, key: str, params: Mapping[str, object]) -> str | None:
    """The sentence for `key`, or its plural form for `params["count"]` when it has forms."""
    entries = catalogue(lang)
    text = entries.get(key)
    if text is None:
        # A plural sentence: the form for `count` (the "other" form when no count is given).
        if "count" in params:
            text = entries.get(f"{key}.{plural_category(lang, params['count'])}")
        if text is None:
            text = entries.get(f"{key}.other")
    return text


def has_key(key: str) -> bool:
    entries = catalogue(DEFAULT_LOCALE)
    return key in entries or f"{key}.other" in entries
