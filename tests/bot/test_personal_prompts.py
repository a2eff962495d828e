"""Option sets and the prompt suffix: parsing, expansion, refusals (pure)."""

from __future__ import annotations

import pytest

from bot.personal_prompts import (
    expand_sets,
    format_option_sets,
    parse_option_sets,
    parse_suffix,
    personalise,
)
from bot.prompts import PromptError

SETS = (("portrait", "--ar 2:3 --stylize 250"), ("warm", "--chaos 10"))


def test_sets_parse_one_a_line_lower_cased_in_order() -> None:
    text = "Portrait: --ar 2:3 --stylize 250\n\n  warm :  --chaos 10  \n"
    assert parse_option_sets(text, 100) == SETS
    assert parse_option_sets(format_option_sets(SETS), 100) == SETS
    assert parse_option_sets("  \n", 100) == ()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("no colon here", "members.sets.line"),
        ("name:   ", "members.sets.line"),
        ("two words: --ar 1:1", "members.sets.name"),
        ("x" * 21 + ": --ar 1:1", "members.sets.name"),
        ("a: --ar 1:1\nA: --v 6", "members.sets.twice"),
        ("a: --sets b", "members.sets.nested"),
        ("\n".join(f"s{n}: --seed {n}" for n in range(11)), "members.sets.too_many"),
        ("long: " + "x" * 101, "prompt.too_long"),
    ],
)
def test_bad_sets_are_refused_with_a_reason(text: str, key: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_option_sets(text, 100)
    assert caught.value.key == key


def test_sets_expand_in_place_several_and_case_blind() -> None:
    assert expand_sets("a fox --sets portrait", SETS) == "a fox --ar 2:3 --stylize 250"
    assert expand_sets("a fox --sets Warm,portrait x", SETS) == (
        "a fox --chaos 10 --ar 2:3 --stylize 250 x"
    )
    assert expand_sets("a fox —sets warm", SETS) == "a fox --chaos 10"  # a phone's em dash
    assert expand_sets("the --setsquare stays", SETS) == "the --setsquare stays"
    with pytest.raises(PromptError) as caught:
        expand_sets("a fox --sets nope", SETS)
    assert caught.value.key == "members.sets.unknown"
    assert caught.value.params == {"name": "nope", "names": "portrait, warm"}
    with pytest.raises(PromptError) as caught:
        expand_sets("a fox --sets", SETS)
    assert caught.value.key == "members.sets.missing"


def test_suffix_is_one_trimmed_line_appended_and_the_whole_is_checked_again() -> None:
    assert parse_suffix("  cinematic\nlighting ", 100) == "cinematic lighting"
    assert parse_suffix("   ", 100) is None
    assert personalise("a fox --sets warm", "hd", SETS, 100) == "a fox --chaos 10 hd"
    with pytest.raises(PromptError) as caught:
        personalise("x" * 95, "a long suffix", (), 100)
    assert caught.value.key == "prompt.too_long"
