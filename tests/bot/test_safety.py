"""Foreign text in our messages: markdown escaped, secrets redacted."""

from __future__ import annotations

import discord.utils

from bot.safety import escape_markdown, redact, register_secrets, shown

SAMPLES = [
    "[Claim free Nitro](https://evil.example/nitro)",
    "**bold** __under__ ~~gone~~ ||spoiler|| `code`",
    "# big heading",
    "> quoted",
    "-# small",
    "a cat https://s.mj.run/a_b_c --ar 16:9",
    "back\\slash",
]


def test_escape_matches_discord_py() -> None:
    for text in SAMPLES:
        assert escape_markdown(text) == discord.utils.escape_markdown(text), text


def test_masked_links_and_formatting_are_neutralised() -> None:
    assert escape_markdown("[Claim free Nitro](https://x.example)").startswith("\\[")
    assert escape_markdown("**x**") == "\\*\\*x\\*\\*"
    # A plain link in a prompt stays a usable link.
    assert escape_markdown("https://s.mj.run/a_b") == "https://s.mj.run/a_b"


def test_configured_secrets_are_redacted_in_every_form() -> None:
    register_secrets(["sk-unit-test-key-77", "  ", "abc"])
    assert redact("invalid token sk-unit-test-key-77") == "invalid token [redacted]"
    assert redact("key unit-test-key-77 refused") == "key [redacted] refused"
    assert redact("abc stays: too short to be a secret") == "abc stays: too short to be a secret"
    assert shown("**sk-unit-test-key-77**") == "\\*\\*[redacted]\\*\\*"


def test_inline_text_stays_on_its_line() -> None:
    from bot.safety import escape_inline

    assert escape_inline("a - b") == "a - b"
    assert escape_inline("# not a heading\n> nor a quote") == "# not a heading > nor a quote"
    assert escape_inline("[x](https://e.example) _y_") == "\\[x](https://e.example) \\_y\\_"


def test_every_masked_link_is_neutralised_not_only_the_first() -> None:
    text = "[a](https://ok.example) and [Nitro](https://evil.example) [[x]](https://evil.example)"
    escaped = escape_markdown(text)
    assert escaped == (
        "\\[a](https://ok.example) and \\[Nitro](https://evil.example) "
        "\\[\\[x]](https://evil.example)"
    )
    assert escape_markdown("a [note] without a link") == "a [note] without a link"
