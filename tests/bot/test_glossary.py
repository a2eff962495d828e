"""Chinese texts use the glossary's one word per thing (docs/glossary.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.i18n import catalogue

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"


@dataclass(frozen=True)
class Term:
    english: str
    chinese: str
    avoid: tuple[str, ...]
    checked: bool


def terms() -> list[Term]:
    rows = [line for line in GLOSSARY.read_text("utf-8").splitlines() if line.startswith("| ")]
    found = []
    for row in rows[1:]:  # the header
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) != 5 or set(cells[0]) <= {"-"}:
            continue
        english, chinese, avoid, _source, checked = cells
        variants = tuple(v.strip() for v in avoid.split(",") if v.strip())
        found.append(Term(english, chinese, variants, checked == "checked"))
    return found


def english_word(term: Term) -> re.Pattern[str]:
    """`unit (of a quota)` -> the word `unit`, in any case, plural too."""
    word = re.sub(r"\s*\(.*\)", "", term.english).split(",")[0].strip()
    return re.compile(rf"\b{re.escape(word)}s?\b", re.IGNORECASE)


def test_the_glossary_is_read() -> None:
    loaded = terms()
    assert len(loaded) > 20
    assert Term("unit (of a quota)", "点", ("单位", "点额度", "额度"), True) in loaded


@pytest.mark.parametrize("term", [t for t in terms() if t.avoid], ids=lambda t: t.english)
def test_chinese_texts_never_use_a_word_the_glossary_rules_out(term: Term) -> None:
    used = {
        key: text
        for key, text in catalogue("zh-CN").items()
        if any(variant in text for variant in term.avoid)
    }
    assert not used, f"use {term.chinese!r}, not {term.avoid}: {used}"


@pytest.mark.parametrize("term", [t for t in terms() if t.checked], ids=lambda t: t.english)
def test_chinese_texts_name_the_thing_with_the_glossary_term(term: Term) -> None:
    english, chinese = catalogue("en"), catalogue("zh-CN")
    pattern = english_word(term)
    missing = {
        key: text
        for key, text in chinese.items()
        if pattern.search(_english_of(english, key)) and term.chinese not in text
    }
    assert not missing, f"these name '{term.english}' without {term.chinese!r}: {missing}"


_NOT_WORDS = re.compile(r"\{[^}]*\}|`[^`]*`")


def _english_of(english: dict[str, str], key: str) -> str:
    """The English sentence's words, without {placeholders} and `code` (a plural form's
    English counterpart is its `.other` form)."""
    text = english.get(key)
    if text is None:
        text = english.get(f"{key.rpartition('.')[0]}.other", "")
    return _NOT_WORDS.sub(" ", text)
