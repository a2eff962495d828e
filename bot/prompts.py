"""Prompt text: validation, user defaults, banned words, --zoom, describe and shorten results."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bot.confusables import prototypes

Speed = Literal["fast", "relax", "turbo"]
SPEEDS: tuple[Speed, ...] = ("fast", "relax", "turbo")


class PromptError(Exception):
    """A prompt the bot refuses: an i18n key with its parameters, and the English sentence."""

    def __init__(self, key: str, params: Mapping[str, object], message: str) -> None:
        super().__init__(message)
        self.key = key
        self.params: dict[str, object] = dict(params)
        self.message = message


# Control characters break the proxy's Discord message; line breaks would end the prompt early.
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def validate_prompt(text: str, max_length: int) -> str:
    """The prompt as it will be sent (one line, trimmed), or a PromptError saying why not."""
    cleaned = _CONTROL.sub("", _LINE_BREAKS.sub(" ", text)).strip()
    if not cleaned:
        raise PromptError("prompt.empty", {}, "The prompt is empty.")
    if len(cleaned) > max_length:
        raise PromptError(
            "prompt.too_long",
            {"length": len(cleaned), "limit": max_length},
            f"The prompt is {len(cleaned)} characters long; the limit is {max_length}.",
        )
    return cleaned


# ---- parameters --------------------------------------------------------------------------
# Midjourney accepts an em dash for "--" (phones turn "--" into "—").
_PARAM = re.compile(r"(?:(?<=\s)|^)(?:--|—)(?P<name>[A-Za-z]+)\b")
_VERSION_PARAMS = frozenset({"v", "version", "niji"})
_ASPECT_PARAMS = frozenset({"ar", "aspect"})
_STYLIZE_PARAMS = frozenset({"s", "stylize"})
_STYLE_PARAMS = frozenset({"style", "raw"})
_SPEED_PARAMS = frozenset(SPEEDS)
_VERSION = re.compile(r"(?:niji(?: \d+(?:\.\d+)?)?|\d+(?:\.\d+)?)")
_ASPECT = re.compile(r"[1-9]\d{0,3}:[1-9]\d{0,3}")


def prompt_parameters(prompt: str) -> set[str]:
    """Lower-cased names of the --parameters a prompt sets."""
    return {m["name"].lower() for m in _PARAM.finditer(prompt)}


@dataclass(frozen=True, slots=True)
class UserDefaults:
    """A member's defaults for their prompts; checked so that nothing but a parameter slips in."""

    version: str | None = None
    aspect: str | None = None
    stylize: int | None = None
    style_raw: bool = False
    speed: Speed | None = None

    def __post_init__(self) -> None:
        if self.version is not None and not _VERSION.fullmatch(self.version):
            raise ValueError(f"not a Midjourney version: {self.version!r}")
        if self.aspect is not None and not _ASPECT.fullmatch(self.aspect):
            raise ValueError(f"not an aspect ratio: {self.aspect!r}")
        if self.stylize is not None and not 0 <= self.stylize <= 1000:
            raise ValueError(f"stylize must be 0..1000, not {self.stylize}")
        if self.speed is not None and self.speed not in SPEEDS:
            raise ValueError(f"not a speed: {self.speed!r}")

    def parameters(self, already_set: Iterable[str] = ()) -> list[str]:
        """The parameters to append, leaving out those in `already_set` (lower-case names)."""
        present = set(already_set)
        out: list[str] = []
        if self.version is not None and not present & _VERSION_PARAMS:
            out.append(
                f"--{self.version}" if self.version.startswith("niji") else f"--v {self.version}"
            )
        if self.aspect is not None and not present & _ASPECT_PARAMS:
            out.append(f"--ar {self.aspect}")
        if self.stylize is not None and not present & _STYLIZE_PARAMS:
            out.append(f"--stylize {self.stylize}")
        if self.style_raw and not present & _STYLE_PARAMS:
            out.append("--style raw")
        if self.speed is not None and not present & _SPEED_PARAMS:
            out.append(f"--{self.speed}")
        return out


def apply_defaults(prompt: str, defaults: UserDefaults) -> str:
    """The prompt with the user's defaults appended, except parameters the prompt already sets."""
    extra = defaults.parameters(prompt_parameters(prompt))
    if not extra:
        return prompt
    return " ".join([prompt.rstrip(), *extra]).strip()


_ZOOM_PARAM = re.compile(r"(?:(?<=\s)|^)(?:--|—)zoom\b(?:\s+[^\s-][^\s]*)?", re.IGNORECASE)


def zoom_prompt(prompt: str, zoom: float) -> str:
    """The prompt for Custom Zoom: its `--zoom` replaced by (or set to) `zoom`, 1 < zoom <= 2."""
    text = f"{zoom:g}" if math.isfinite(zoom) else ""
    if not text or not 1 < float(text) <= 2:
        raise PromptError(
            "prompt.zoom_range",
            {"zoom": zoom},
            f"The zoom must be more than 1 and at most 2, not {zoom:g}.",
        )
    rest = re.sub(r"\s{2,}", " ", _ZOOM_PARAM.sub(" ", prompt)).strip()
    return f"{rest} --zoom {text}".strip()


# ---- banned words ------------------------------------------------------------------------
# Separators an evasion may put inside a word: anything but a letter or digit.
_SEP = r"[\W_]*"


@functools.cache
def _unspaced() -> re.Pattern[str]:
    """Scripts written without spaces: they get no word boundaries, else no word could ever
    match. Compiled on first use (about 3 ms for these ranges, off every start-up)."""
    return re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


# A plural (or a verb's -s) of a word ending in a Latin letter is the same word.
_LATIN_END = re.compile(r"[a-z]")


def _fold(text: str) -> str:
    """Compatibility-normalised text without accents or invisible fillers ("Ｂàn" -> "Ban")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c) and not _invisible(c))
    return unicodedata.normalize("NFKC", stripped)


def _invisible(char: str) -> bool:
    """Format characters (zero-width spaces, joiners) and the Hangul fillers (U+3164 and kin):
    they show as nothing, and the fillers even count as letters."""
    if char.isascii():
        return False
    return unicodedata.category(char) == "Cf" or "FILLER" in unicodedata.name(char, "")


def skeleton(text: str) -> str:
    """`text` with every confusable character replaced by its class's representative."""
    table = prototypes()
    return "".join(table.get(c, c) for c in text)


# A homoglyph may stand for a letter of either case ("I" for "l", "і" for "i"): the text is
# matched case-folded before and after the skeleton, each against the word folded the same way.
def _lower_then_skeleton(text: str) -> str:
    return skeleton(_fold(text).casefold())


def _skeleton_then_lower(text: str) -> str:
    return skeleton(_fold(text)).casefold()


_FOLDINGS: tuple[Callable[[str], str], ...] = (_lower_then_skeleton, _skeleton_then_lower)


@functools.lru_cache(maxsize=4096)
def _word_patterns(word: str) -> tuple[tuple[frozenset[str], re.Pattern[str]] | None, ...]:
    """Per folding in `_FOLDINGS`: the characters the word needs and its pattern (None: nothing
    of the word is left to match). A text without all those characters is not searched."""
    patterns: list[tuple[frozenset[str], re.Pattern[str]] | None] = []
    plain = _fold(word).casefold()
    for fold in _FOLDINGS:
        chars = [c for c in fold(word) if c.isalnum()]
        if not chars:
            patterns.append(None)
            continue
        body = _SEP.join(re.escape(c) for c in chars)
        before = "" if _unspaced().match(chars[0]) else r"(?<![^\W_])"
        after = "" if _unspaced().match(chars[-1]) else r"(?![^\W_])"
        plural = ""
        if plain and _LATIN_END.fullmatch(plain[-1]):
            plural = f"(?:{re.escape(fold('e'))}?{re.escape(fold('s'))})?"
        patterns.append((frozenset(chars), re.compile(before + body + plural + after)))
    return tuple(patterns)


def find_banned_word(text: str, words: Iterable[str]) -> str | None:
    """The first of `words` (as given) that `text` contains as a whole word or phrase, or None.

    Case, accents, separators inside a word ("b a n n e d", "b.a.n-ned"), invisible fillers,
    look-alike letters of other scripts (Cyrillic "о" for "o", TR39 confusables) and a plural
    "s"/"es" do not hide it; a word inside a longer word ("ass" in "class") does not count.
    """
    folded = [fold(text) for fold in _FOLDINGS]
    present = [frozenset(target) for target in folded]
    for word in words:
        for compiled, target, chars in zip(_word_patterns(word), folded, present, strict=True):
            if compiled is not None and compiled[0] <= chars and compiled[1].search(target):
                return word
    return None


# ---- describe and shorten results --------------------------------------------------------
_KEYCAP = re.compile(r"(?:^|(?<=\s))[1-9]\ufe0f?\u20e3")
_NUMBERED = re.compile(r"^\s*[1-9][.)]\s+", re.MULTILINE)


def _numbered_items(text: str) -> list[str]:
    """Items after 1️⃣ 2️⃣ ... markers (or "1." / "1)" line starts when there are no keycaps)."""
    splitter = _KEYCAP if _KEYCAP.search(text) else _NUMBERED
    parts = splitter.split(text)
    if len(parts) < 2:
        return []
    items = (" ".join(part.split()) for part in parts[1:])
    return [item for item in items if item]


def parse_describe_prompts(final_prompt: str) -> list[str]:
    """The prompts of a describe result ("1️⃣ a\\n\\n2️⃣ b ..."), in order, trimmed."""
    items = _numbered_items(final_prompt or "")
    if items:
        return items
    # A single prompt without any marker is still a prompt.
    single = " ".join((final_prompt or "").split())
    return [single] if single else []


_HEADING = re.compile(r"^\s*#{1,6}\s*(?P<title>.*?)\s*$", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?P<token>.+?)\*\*")


def _sections(text: str) -> tuple[str, str]:
    """(important tokens section, shortened prompts section) of a shorten result."""
    headings = list(_HEADING.finditer(text))
    tokens = prompts = ""
    for n, heading in enumerate(headings):
        end = headings[n + 1].start() if n + 1 < len(headings) else len(text)
        body = text[heading.end() : end]
        title = heading["title"].casefold()
        if "token" in title or "重要" in title:
            tokens = body
        elif "prompt" in title or "简化" in title or "提示" in title:
            prompts = body
    if not headings:
        first = _KEYCAP.search(text)
        cut = first.start() if first else len(text)
        tokens, prompts = text[:cut], text[cut:]
    return tokens, prompts


def parse_shorten(final_prompt: str) -> tuple[list[str], list[str]]:
    """(important tokens, shortened prompts) of a shorten result's markdown."""
    text = final_prompt or ""
    tokens_part, prompts_part = _sections(text)
    tokens: list[str] = []
    seen: set[str] = set()
    for match in _BOLD.finditer(tokens_part):
        token = " ".join(match["token"].split()).strip("*~ ,")
        if token and token.casefold() not in seen:
            seen.add(token.casefold())
            tokens.append(token)
    prompts = _numbered_items(prompts_part)
    if not prompts and not tokens_part:
        prompts = _numbered_items(text)
    return tokens, prompts
