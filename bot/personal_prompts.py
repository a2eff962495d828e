"""A member's own prompt additions: /settings defaults, a suffix, and named option sets.

An option set is a name and its parameters (`portrait: --ar 2:3 --stylize 250`); `--sets portrait`
in a prompt is replaced by them (`--sets portrait,warm` for several). The suffix is appended to
every prompt. Pure functions: refusals are PromptErrors carrying a catalogue key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.prompts import PromptError, UserDefaults, validate_prompt
from storage.users import UserSettingsRecord

log = logging.getLogger(__name__)

MAX_SETS = 10
MAX_SET_NAME = 20
SET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,19}")
_SETS_PARAM = re.compile(r"(?:(?<=\s)|^)(?:--|—)sets\b(?:\s+(?P<names>[^\s]+))?", re.IGNORECASE)

OptionSets = tuple[tuple[str, str], ...]


def defaults_of(record: UserSettingsRecord) -> UserDefaults:
    """A member's stored /settings as prompt defaults; unusable stored values are left out."""
    speed = record.speed if record.speed in ("fast", "relax", "turbo") else None
    try:
        return UserDefaults(
            version=record.version,
            aspect=record.aspect,
            stylize=record.stylize,
            style_raw=bool(record.style_raw),
            speed=speed,  # type: ignore[arg-type]
        )
    except ValueError:
        log.warning(
            "ignoring unusable defaults of user %s in guild %s", record.user_id, record.guild_id
        )
        return UserDefaults()


def parse_suffix(text: str, max_length: int) -> str | None:
    """The suffix as it will be appended (one line, trimmed); empty clears it."""
    if not text.strip():
        return None
    suffix = validate_prompt(text, max_length)
    if _SETS_PARAM.search(suffix):
        raise PromptError("members.sets.nested", {}, "A suffix cannot use --sets.")
    return suffix


def parse_option_sets(text: str, max_length: int) -> OptionSets:
    """`NAME: PARAMETERS`, one a line, at most ten, names unique; an empty text clears them."""
    sets: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        name, colon, parameters = line.partition(":")
        name = name.strip().casefold()
        if not colon or not parameters.strip():
            raise PromptError(
                "members.sets.line", {"line": number}, f"Line {number} is not NAME: PARAMETERS."
            )
        if not SET_NAME.fullmatch(name):
            raise PromptError(
                "members.sets.name",
                {"name": name[:40], "limit": MAX_SET_NAME},
                f"{name!r} is not a valid option set name.",
            )
        if name in seen:
            raise PromptError("members.sets.twice", {"name": name}, f"{name} is named twice.")
        seen.add(name)
        value = validate_prompt(parameters, max_length)
        if _SETS_PARAM.search(value):
            raise PromptError("members.sets.nested", {}, "An option set cannot use --sets.")
        sets.append((name, value))
    if len(sets) > MAX_SETS:
        raise PromptError(
            "members.sets.too_many",
            {"count": len(sets), "limit": MAX_SETS},
            f"{len(sets)} option sets; at most {MAX_SETS}.",
        )
    return tuple(sets)


def format_option_sets(sets: Sequence[tuple[str, str]]) -> str:
    """The text a member edits: one `NAME: PARAMETERS` a line."""
    return "\n".join(f"{name}: {parameters}" for name, parameters in sets)


def expand_sets(prompt: str, sets: Sequence[tuple[str, str]]) -> str:
    """Every `--sets a[,b]` replaced by the parameters of those sets, in that order."""
    known = dict(sets)

    def replace(match: re.Match[str]) -> str:
        names = [n.casefold() for n in (match["names"] or "").split(",") if n]
        if not names:
            raise PromptError("members.sets.missing", {}, "--sets needs a set name.")
        parts = []
        for name in names:
            if name not in known:
                raise PromptError(
                    "members.sets.unknown",
                    {"name": name, "names": ", ".join(known) or "-"},
                    f"There is no option set {name!r}.",
                )
            parts.append(known[name])
        return " ".join(parts)

    expanded = _SETS_PARAM.sub(replace, prompt)
    return re.sub(r"\s{2,}", " ", expanded).strip()


def personalise(
    prompt: str, suffix: str | None, sets: Sequence[tuple[str, str]], max_length: int
) -> str:
    """The prompt with its option sets expanded and the suffix appended, validated again."""
    text = expand_sets(prompt, sets)
    if suffix:
        text = f"{text} {suffix}"
    return validate_prompt(text, max_length)
