"""Prompt validation, user defaults, banned words, --zoom and describe/shorten parsing."""

from __future__ import annotations

import math

import pytest

from bot.prompts import (
    PromptError,
    UserDefaults,
    apply_defaults,
    find_banned_word,
    parse_describe_prompts,
    parse_shorten,
    prompt_parameters,
    validate_prompt,
    zoom_prompt,
)

# ---- validate_prompt ----------------------------------------------------------------------


def test_valid_prompt_is_trimmed() -> None:
    assert validate_prompt("  a red fox  ", 100) == "a red fox"


def test_line_breaks_become_spaces_and_control_characters_go() -> None:
    assert validate_prompt("a red fox\n--ar 16:9\x00\x07", 100) == "a red fox --ar 16:9"


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n", "\x00\x01"])
def test_empty_prompt(text: str) -> None:
    with pytest.raises(PromptError) as info:
        validate_prompt(text, 100)
    assert info.value.key == "prompt.empty"
    assert info.value.params == {}
    assert info.value.message == "The prompt is empty."
    assert str(info.value) == info.value.message


def test_too_long_prompt() -> None:
    with pytest.raises(PromptError) as info:
        validate_prompt("x" * 11, 10)
    assert info.value.key == "prompt.too_long"
    assert info.value.params == {"length": 11, "limit": 10}
    assert "11" in info.value.message and "10" in info.value.message


def test_prompt_at_the_limit_is_fine() -> None:
    assert validate_prompt("x" * 10, 10) == "x" * 10


def test_prompt_error_is_not_a_value_error() -> None:
    # Dialog code parses numbers with `except ValueError`; a PromptError must not be swallowed.
    assert not issubclass(PromptError, ValueError)


# ---- defaults ---------------------------------------------------------------------------


FULL = UserDefaults(version="6.1", aspect="16:9", stylize=250, style_raw=True, speed="fast")


def test_no_defaults_leaves_the_prompt_alone() -> None:
    assert apply_defaults("a cat ", UserDefaults()) == "a cat "


def test_all_defaults_appended_in_order() -> None:
    assert (
        apply_defaults("a cat", FULL) == "a cat --v 6.1 --ar 16:9 --stylize 250 --style raw --fast"
    )


def test_niji_version() -> None:
    assert apply_defaults("a cat", UserDefaults(version="niji 6")) == "a cat --niji 6"
    assert apply_defaults("a cat", UserDefaults(version="niji")) == "a cat --niji"


@pytest.mark.parametrize(
    ("prompt", "expected_suffix"),
    [
        ("a cat --v 7", "--ar 16:9 --stylize 250 --style raw --fast"),
        ("a cat --version 5.2", "--ar 16:9 --stylize 250 --style raw --fast"),
        ("a cat --niji 6", "--ar 16:9 --stylize 250 --style raw --fast"),
        ("a cat --ar 1:1", "--v 6.1 --stylize 250 --style raw --fast"),
        ("a cat --aspect 2:3", "--v 6.1 --stylize 250 --style raw --fast"),
        ("a cat --s 50", "--v 6.1 --ar 16:9 --style raw --fast"),
        ("a cat --stylize 50", "--v 6.1 --ar 16:9 --style raw --fast"),
        ("a cat --style cute", "--v 6.1 --ar 16:9 --stylize 250 --fast"),
        ("a cat --relax", "--v 6.1 --ar 16:9 --stylize 250 --style raw"),
        ("a cat --turbo", "--v 6.1 --ar 16:9 --stylize 250 --style raw"),
        ("a cat --fast", "--v 6.1 --ar 16:9 --stylize 250 --style raw"),
        ("a cat --AR 1:1 --V 7", "--stylize 250 --style raw --fast"),
        ("a cat —ar 1:1", "--v 6.1 --stylize 250 --style raw --fast"),
    ],
)
def test_parameters_the_prompt_sets_are_kept(prompt: str, expected_suffix: str) -> None:
    assert apply_defaults(prompt, FULL) == f"{prompt} {expected_suffix}"


def test_lookalike_parameters_do_not_count() -> None:
    # --seed, --sref and --stop are not --s; --vibe is not --v; a URL with "--v" is not a parameter.
    prompt = "https://x.example/a--v.png a cat --seed 1 --sref 2 --stop 80 --vibe"
    assert apply_defaults(prompt, UserDefaults(version="7", stylize=100)) == (
        f"{prompt} --v 7 --stylize 100"
    )


def test_prompt_parameters() -> None:
    assert prompt_parameters("a --ar 1:1 --no red, blue --Style raw") == {"ar", "no", "style"}
    assert prompt_parameters("no params -- here") == set()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": "6.1 --no cats"},
        {"version": "v6"},
        {"version": ""},
        {"aspect": "16x9"},
        {"aspect": "0:1"},
        {"aspect": "16:9 --tile"},
        {"stylize": -1},
        {"stylize": 1001},
        {"speed": "slow"},
    ],
)
def test_defaults_refuse_values_that_are_not_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        UserDefaults(**kwargs)  # type: ignore[arg-type]


def test_defaults_bounds_are_allowed() -> None:
    assert UserDefaults(stylize=0).parameters() == ["--stylize 0"]
    assert UserDefaults(stylize=1000).parameters() == ["--stylize 1000"]


# ---- banned words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a banned thing",
        "BANNED",
        "Banned!",
        "(banned)",
        "b a n n e d",
        "b.a.n-ned",
        "b..a..n---n  e  d",
        "b_a_n_n_e_d",
        "bànnéd",
        "ｂａｎｎｅｄ",
        "ban\u200bned",
        "x,banned,y",
    ],
)
def test_banned_word_found_through_simple_evasions(text: str) -> None:
    assert find_banned_word(text, ["banned"]) == "banned"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a class act", ["ass"]),
        ("passage", ["ass"]),
        ("assassin", ["ass"]),
        ("unbanned", ["banned"]),
        ("bannedness", ["banned"]),
        ("b a n n e d x", ["banned x y"]),
        ("nothing here", ["banned"]),
        ("anything", []),
        ("anything", ["", "  ", "..."]),
    ],
)
def test_no_false_positives(text: str, words: list[str]) -> None:
    assert find_banned_word(text, words) is None


def test_returns_the_configured_spelling_of_the_first_hit() -> None:
    assert find_banned_word("Some GORE here", ["Blood", "Gore", "here"]) == "Gore"


def test_phrases() -> None:
    words = ["bad word"]
    assert find_banned_word("a Bad   Word here", words) == "bad word"
    assert find_banned_word("a bad-word here", words) == "bad word"
    assert find_banned_word("a b.a.d w.o.r.d here", words) == "bad word"
    assert find_banned_word("a bad sword", words) is None
    assert find_banned_word("a bad", words) is None


def test_words_given_with_punctuation_or_case() -> None:
    assert find_banned_word("some f.oo here", ["F-OO"]) == "F-OO"


def test_scripts_without_spaces_match_inside_text() -> None:
    assert find_banned_word("一只血腥的猫", ["血腥"]) == "血腥"
    assert find_banned_word("一只可爱的猫", ["血腥"]) is None


def test_words_accept_any_iterable() -> None:
    assert find_banned_word("gore", (w for w in ["gore"])) == "gore"


@pytest.mark.parametrize(
    "text",
    [
        "a red drаgоn",  # Cyrillic а and о
        "a red ԁragon",  # Cyrillic komi de
        "a red drag\u3164on",  # Hangul filler, which counts as a letter
        "a red \uffa0dragon",  # half-width Hangul filler
        "a red dra\u200bgon",  # zero-width space
        "a red DRAGON",
        "a red dragons",  # plural
        "two red dragonѕ",  # plural with a Cyrillic dze
        "a red ｄｒａｇｏｎ!",  # full-width
    ],
)
def test_homoglyphs_fillers_and_plurals_do_not_hide_a_word(text: str) -> None:
    assert find_banned_word(text, ["dragon"]) == "dragon"


def test_confusable_case_evasions() -> None:
    # "I" (capital i) looks like "l": TR39 maps both to one skeleton.
    assert find_banned_word("kiIl it", ["kill"]) == "kill"
    assert find_banned_word("KILL it", ["kill"]) == "kill"
    assert find_banned_word("ki11 it", ["kill"]) == "kill"
    assert find_banned_word("kіll", ["kill"]) == "kill"  # Cyrillic byelorussian-ukrainian i
    # ... but letters that are merely similar in meaning stay apart.
    assert find_banned_word("a dragonfly", ["dragon"]) is None
    assert find_banned_word("glasses", ["ass"]) is None
    assert find_banned_word("the kilns", ["kill"]) is None


def test_a_banned_word_in_another_script_is_matched_by_its_skeleton() -> None:
    assert find_banned_word("a dragon", ["drаgоn"]) == "drаgоn"  # the moderator typed Cyrillic


# ---- zoom --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "zoom", "expected"),
    [
        ("a cat", 1.5, "a cat --zoom 1.5"),
        ("a cat", 2, "a cat --zoom 2"),
        ("a cat --zoom 1.2 --ar 1:1", 1.8, "a cat --ar 1:1 --zoom 1.8"),
        ("a cat --ZOOM 2 --zoom 1.1", 1.25, "a cat --zoom 1.25"),
        ("a cat --zoom --ar 1:1", 1.5, "a cat --ar 1:1 --zoom 1.5"),
        ("a cat —zoom 1.3", 1.5, "a cat --zoom 1.5"),
        ("", 1.5, "--zoom 1.5"),
        ("a cat --zoomed 3", 1.5, "a cat --zoomed 3 --zoom 1.5"),
    ],
)
def test_zoom_prompt(prompt: str, zoom: float, expected: str) -> None:
    assert zoom_prompt(prompt, zoom) == expected


@pytest.mark.parametrize("zoom", [1.0, 0.5, 2.01, 3.0, -1.5, 1.0000001, math.nan, math.inf])
def test_zoom_out_of_range(zoom: float) -> None:
    with pytest.raises(PromptError) as info:
        zoom_prompt("a cat", zoom)
    assert info.value.key == "prompt.zoom_range"
    assert info.value.params == {"zoom": zoom} or math.isnan(zoom)


# ---- describe ----------------------------------------------------------------------------

DESCRIBE = (
    "1️⃣ a cat sitting on a sofa, in the style of soft pastels --ar 5:4\n\n"
    "2️⃣ a fluffy cat,\nwarm light --ar 5:4\n\n"
    "3️⃣ cat portrait --ar 5:4\n\n"
    "4️⃣ a sleepy cat --ar 5:4"
)


def test_describe_prompts() -> None:
    assert parse_describe_prompts(DESCRIBE) == [
        "a cat sitting on a sofa, in the style of soft pastels --ar 5:4",
        "a fluffy cat, warm light --ar 5:4",
        "cat portrait --ar 5:4",
        "a sleepy cat --ar 5:4",
    ]


def test_describe_without_variation_selector_or_blank_lines() -> None:
    text = "1\u20e3 one\n2\u20e3 two 3\ufe0f\u20e3 three"
    assert parse_describe_prompts(text) == ["one", "two", "three"]


def test_describe_numbered_lines() -> None:
    assert parse_describe_prompts("1. one\n2) two\n") == ["one", "two"]


def test_describe_lenient_cases() -> None:
    assert parse_describe_prompts("") == []
    assert parse_describe_prompts("   ") == []
    assert parse_describe_prompts("just one prompt") == ["just one prompt"]
    assert parse_describe_prompts("1️⃣ \n\n2️⃣ two") == ["two"]
    # A digit inside a prompt is not a marker.
    assert parse_describe_prompts("1️⃣ 3 cats --ar 1:1") == ["3 cats --ar 1:1"]


# ---- shorten -----------------------------------------------------------------------------

SHORTEN = (
    "## Important tokens\n"
    "**appdash** **appdash**, in the ~~style~~ of ~~expert~~ **draftsmanship**, commission for, "
    "ethereal, dreamlike quality, ~~dadaistic~~, **toonami**\n"
    "## Shortened prompts\n"
    "1️⃣ appdash appdash, draftsmanship, commission for, ethereal, toonami\n\n"
    "2️⃣ appdash appdash, draftsmanship, commission, toonami\n\n"
    "3️⃣ appdash appdash, draftsmanship, toonami\n\n"
    "4️⃣ appdash appdash, toonami\n\n"
    "5️⃣ appdash appdash"
)


def test_shorten() -> None:
    tokens, prompts = parse_shorten(SHORTEN)
    assert tokens == ["appdash", "draftsmanship", "toonami"]
    assert prompts == [
        "appdash appdash, draftsmanship, commission for, ethereal, toonami",
        "appdash appdash, draftsmanship, commission, toonami",
        "appdash appdash, draftsmanship, toonami",
        "appdash appdash, toonami",
        "appdash appdash",
    ]


def test_shorten_chinese_headings() -> None:
    text = "## 重要词汇\n**猫** 在 **沙发**\n## 简化提示\n1️⃣ 猫，沙发\n\n2️⃣ 猫"
    assert parse_shorten(text) == (["猫", "沙发"], ["猫，沙发", "猫"])


def test_shorten_without_headings() -> None:
    text = "**fox** in a ~~very~~ forest\n1️⃣ fox, forest\n2️⃣ fox"
    assert parse_shorten(text) == (["fox"], ["fox, forest", "fox"])


def test_shorten_lenient_cases() -> None:
    assert parse_shorten("") == ([], [])
    assert parse_shorten("## Shortened prompts\n1️⃣ only") == ([], ["only"])
    assert parse_shorten("### important TOKENS\n**a**\n") == (["a"], [])
